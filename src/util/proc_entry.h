#pragma once

namespace ipcwatch {

// Whether a /proc directory entry names a process (or an fd): a non-empty run of digits.
inline bool isProcNumber(const char* name) {
  if (*name == '\0') {
    return false;
  }
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace ipcwatch
