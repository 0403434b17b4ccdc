#include "metrics/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

namespace ipcwatch {
namespace {

// Most values need no escaping: they are appended in runs, not a character at a time.
void appendEscaped(std::string& out, std::string_view text, bool quote_too) {
  const std::string_view special = quote_too ? std::string_view("\\\n\"") : "\\\n";
  std::size_t start = 0;
  for (std::size_t at = text.find_first_of(special); at != std::string_view::npos;
       at = text.find_first_of(special, start)) {
    out.append(text.substr(start, at - start));
    const char c = text[at];
    out += c == '\n' ? "\\n" : c == '\\' ? "\\\\" : "\\\"";
    start = at + 1;
  }
  out.append(text.substr(start));
}

void appendLabels(std::string& out, const LabelSet& labels, const char* extra_name = nullptr,
                  double extra_value = 0) {
  if (labels.empty() && extra_name == nullptr) {
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += name;
    out += "=\"";
    appendEscaped(out, value, true);
    out += '"';
  }
  if (extra_name != nullptr) {
    if (!first) {
      out += ',';
    }
    out += extra_name;
    out += "=\"";
    appendSampleValue(out, extra_value);
    out += '"';
  }
  out += '}';
}

void appendSample(std::string& out, const std::string& name, std::string_view suffix,
                  const LabelSet& labels, double value, const char* extra_name = nullptr,
                  double extra_value = 0) {
  out += name;
  out += suffix;
  appendLabels(out, labels, extra_name, extra_value);
  out += ' ';
  appendSampleValue(out, value);
  out += '\n';
}

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
    default:
      return "untyped";
  }
}

void appendHistogram(std::string& out, const std::string& name, const HistogramSample& sample) {
  for (const auto& bucket : sample.buckets) {
    appendSample(out, name, "_bucket", sample.labels, static_cast<double>(bucket.cumulative_count),
                 "le", bucket.upper_bound);
  }
  appendSample(out, name, "_sum", sample.labels, sample.sum);
  appendSample(out, name, "_count", sample.labels, static_cast<double>(sample.count));
}

}  // namespace

char* writeSampleValue(char* out, double value) {
  std::string_view text;
  if (std::isnan(value)) {
    text = "NaN";
  } else if (std::isinf(value)) {
    text = value > 0 ? "+Inf" : "-Inf";
  } else {
    // The shortest form of a double takes at most 24 characters ("-2.2250738585072014e-308").
    return std::to_chars(out, out + kMaxSampleValueLength, value).ptr;
  }
  return std::copy(text.begin(), text.end(), out);
}

void appendSampleValue(std::string& out, double value) {
  char buf[kMaxSampleValueLength];
  out.append(buf, writeSampleValue(buf, value));
}

void appendLabelSet(std::string& out, const LabelSet& labels) {
  appendLabels(out, labels);
}

void appendExposition(std::string& out, const std::vector<MetricFamily>& families) {
  for (const auto& family : families) {
    if (!family.help.empty()) {
      out += "# HELP ";
      out += family.name;
      out += ' ';
      appendEscaped(out, family.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += family.name;
    out += ' ';
    out += typeName(family.type);
    out += '\n';
    if (family.type == MetricType::Histogram) {
      for (const auto& sample : family.histograms) {
        appendHistogram(out, family.name, sample);
      }
    } else {
      for (const auto& sample : family.samples) {
        appendSample(out, family.name, "", sample.labels, sample.value);
      }
    }
    out += family.series_text;
  }
}

}  // namespace ipcwatch
