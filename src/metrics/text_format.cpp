#include "metrics/text_format.h"

#include <charconv>
#include <cmath>

namespace ipcwatch {
namespace {

void appendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof(buf), value);
    out.append(buf, result.ptr);
  }
}

void appendEscaped(std::string& out, const std::string& text, bool quote_too) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote_too && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void appendLabels(std::string& out, const std::vector<prometheus::ClientMetric::Label>& labels,
                  const char* extra_name = nullptr, double extra_value = 0) {
  if (labels.empty() && extra_name == nullptr) {
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& label : labels) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += label.name;
    out += "=\"";
    appendEscaped(out, label.value, true);
    out += '"';
  }
  if (extra_name != nullptr) {
    if (!first) {
      out += ',';
    }
    out += extra_name;
    out += "=\"";
    appendValue(out, extra_value);
    out += '"';
  }
  out += '}';
}

void appendSample(std::string& out, const std::string& name, const char* suffix,
                  const prometheus::ClientMetric& metric, double value,
                  const char* extra_name = nullptr, double extra_value = 0) {
  out += name;
  out += suffix;
  appendLabels(out, metric.label, extra_name, extra_value);
  out += ' ';
  appendValue(out, value);
  out += '\n';
}

const char* typeName(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter: return "counter";
    case prometheus::MetricType::Gauge: return "gauge";
    case prometheus::MetricType::Histogram: return "histogram";
    case prometheus::MetricType::Summary: return "summary";
    default: return "untyped";
  }
}

void appendMetric(std::string& out, const prometheus::MetricFamily& family,
                  const prometheus::ClientMetric& metric) {
  switch (family.type) {
    case prometheus::MetricType::Counter:
      appendSample(out, family.name, "", metric, metric.counter.value);
      break;
    case prometheus::MetricType::Gauge:
      appendSample(out, family.name, "", metric, metric.gauge.value);
      break;
    case prometheus::MetricType::Histogram:
      for (const auto& bucket : metric.histogram.bucket) {
        appendSample(out, family.name, "_bucket", metric,
                     static_cast<double>(bucket.cumulative_count), "le", bucket.upper_bound);
      }
      appendSample(out, family.name, "_sum", metric, metric.histogram.sample_sum);
      appendSample(out, family.name, "_count", metric,
                   static_cast<double>(metric.histogram.sample_count));
      break;
    case prometheus::MetricType::Summary:
      for (const auto& q : metric.summary.quantile) {
        appendSample(out, family.name, "", metric, q.value, "quantile", q.quantile);
      }
      appendSample(out, family.name, "_sum", metric, metric.summary.sample_sum);
      appendSample(out, family.name, "_count", metric,
                   static_cast<double>(metric.summary.sample_count));
      break;
    default:
      appendSample(out, family.name, "", metric, metric.untyped.value);
      break;
  }
}

}  // namespace

void appendExposition(std::string& out, const std::vector<prometheus::MetricFamily>& families) {
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
    for (const auto& metric : family.metric) {
      appendMetric(out, family, metric);
    }
  }
}

}  // namespace ipcwatch
