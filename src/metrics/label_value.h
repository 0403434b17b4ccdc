#pragma once

#include <string>
#include <string_view>

namespace ipcwatch {

// Makes a label value from bytes another user controls (comm, paths): valid UTF-8 passes
// through, while control characters, DEL and bytes that are not valid UTF-8 become "\xNN".
// The exposition format escapes quotes, backslashes and newlines itself; this keeps the value
// printable and valid UTF-8 for Prometheus and for JSON logs.
std::string sanitizeLabelValue(std::string_view raw);

// Length of the valid UTF-8 sequence starting at s[0], or 0 when it is not one (overlong forms,
// surrogates and code points past U+10FFFF are not).
std::size_t utf8SequenceLength(std::string_view s);

// The bytes of a fixed-size kernel char array up to its first NUL.
std::string_view fromKernelString(const char* data, std::size_t capacity);

}  // namespace ipcwatch
