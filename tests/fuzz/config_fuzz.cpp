// libFuzzer target: any bytes as a configuration file either parse or are rejected with a
// ConfigError naming where; nothing else may escape (no crash, no other exception).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = ipcwatch::parseConfig(text, "fuzz.yaml");
    if (config.source != "fuzz.yaml") {
      std::abort();
    }
  } catch (const ipcwatch::ConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.yaml", 0) != 0) {
      std::abort();  // every error says which file (and line) is wrong
    }
  }
  return 0;
}
