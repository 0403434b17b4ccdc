#include "log/logging.h"

#include <cstdarg>
#include <cstdio>
#include <memory>

#include <bpf/libbpf.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

// %* : the log message, escaped for a JSON string.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        jsonEscape(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %* in text logs: the message with control characters and bytes that are not UTF-8 written
// as \xNN, as label values show them, so that a name another user chose (a path with a
// newline) can never start a log line of its own.
class TextMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        sanitizeLabelValue(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  // Verifier logs arrive as one message of many kilobytes: size the buffer to fit.
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) {
    return n;
  }
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<std::size_t>(n));
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  // libbpf prefixes its own messages with "libbpf: "; others (verifier logs) get one here.
  const std::string prefix = text.rfind("libbpf: ", 0) == 0 ? "" : "libbpf: ";
  switch (level) {
    case LIBBPF_WARN:
      spdlog::warn("{}{}", prefix, text);
      break;
    case LIBBPF_INFO:
      // libbpf's info messages are routine detail (feature probes, relocations).
      spdlog::debug("{}{}", prefix, text);
      break;
    default:
      spdlog::trace("{}{}", prefix, text);
      break;
  }
  return n;
}

}  // namespace

std::optional<spdlog::level::level_enum> parseLogLevel(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off},
  };
  for (const auto& [text, level] : kLevels) {
    if (text == name) {
      return level;
    }
  }
  return std::nullopt;
}

std::string jsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (b < 0x20 || b == 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof(esc), "\\u%04x", b);
          out += esc;
        } else if (b < 0x80) {
          out += c;
        } else if (const std::size_t len = utf8SequenceLength(text.substr(i)); len != 0) {
          out.append(text.substr(i, len));
          i += len;
          continue;
        } else {
          // JSON text must be UTF-8: a byte that is not part of a valid sequence is written
          // as the text \xNN, as label values show it.
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\\\x";
          out += kHex[b >> 4];
          out += kHex[b & 0x0f];
        }
    }
    ++i;
  }
  return out;
}

namespace {

void applyLogSettings(spdlog::logger& logger, spdlog::level::level_enum level, bool json) {
  if (json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    logger.set_formatter(std::move(formatter));
  } else {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<TextMessageFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %*");
    logger.set_formatter(std::move(formatter));
  }
  logger.set_level(level);
}

}  // namespace

void setupLogging(spdlog::level::level_enum level, bool json) {
  auto logger = std::make_shared<spdlog::logger>("ipcwatch",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  applyLogSettings(*logger, level, json);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  libbpf_set_print(libbpfPrint);
}

void reconfigureLogging(spdlog::level::level_enum level, bool json) {
  applyLogSettings(*spdlog::default_logger(), level, json);
}

}  // namespace ipcwatch
