#include "config/trusted_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

std::string readTrustedFile(const std::string& path) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    throw UntrustedFileError(path + ": cannot read: " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    throw UntrustedFileError(path + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw UntrustedFileError(path + ": not a regular file");
  }
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    throw UntrustedFileError(path + ": owned by uid " + std::to_string(st.st_uid) +
                             ", another user who could change what the agent does; make root "
                             "its owner (chown root " +
                             path + ")");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw UntrustedFileError(path + ": writable by " +
                             ((st.st_mode & S_IWOTH) != 0 ? "every user" : "its group") +
                             " (mode " + octal(st.st_mode) +
                             "), who could change what the agent does; remove the write bits "
                             "(chmod go-w " +
                             path + ")");
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw UntrustedFileError(path + ": cannot read: " + std::strerror(errno));
    }
    if (n == 0) {
      return text;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace ipcwatch
