#include "collectors/netns_names.h"

#include <dirent.h>
#include <sys/stat.h>

#include <memory>

namespace ipcwatch {

std::map<std::uint64_t, std::string> namedNetns(const std::vector<std::string>& dirs) {
  std::map<std::uint64_t, std::string> names;
  for (const auto& dir : dirs) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
    if (!d) {
      continue;
    }
    while (const dirent* entry = readdir(d.get())) {
      const std::string name = entry->d_name;
      struct stat st {};
      if (name == "." || name == ".." || stat((dir + "/" + name).c_str(), &st) != 0) {
        continue;
      }
      names.emplace(st.st_ino, name);
    }
  }
  return names;
}

}  // namespace ipcwatch
