#include "endpoints/selinux_check.h"

#include <algorithm>

namespace ipcwatch {
namespace {

// Classes whose denial on the endpoint's own inode blocks the client.
bool endpointClass(const std::string& tclass) {
  return tclass == "fifo_file" || tclass == "sock_file" || tclass == "unix_stream_socket" ||
         tclass == "unix_dgram_socket" || tclass == "file" || tclass == "lnk_file";
}

// Classes whose target is the endpoint's file itself (its security.selinux label).
bool fileClass(const std::string& tclass) {
  return tclass == "fifo_file" || tclass == "sock_file" || tclass == "file" || tclass == "lnk_file";
}

std::string basename(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string typeOf(const std::string& context) {
  const std::string_view type = contextType(context);
  return type.empty() ? context : std::string(type);
}

}  // namespace

std::string selinuxContextOf(const std::string& attr_current) {
  const std::string label =
      attr_current.substr(0, attr_current.find_first_of(std::string("\0\n", 2)));
  const auto colons = std::count(label.begin(), label.end(), ':');
  const bool fields_nonempty = label.find("::") == std::string::npos && !label.starts_with(':');
  return colons >= 2 && fields_nonempty ? label : "";
}

namespace {

std::string denialText(const RecentDenial& denial) {
  std::string perms;
  for (const auto& perm : denial.permissions) {
    perms += (perms.empty() ? "" : " ") + perm;
  }
  std::string out = "denied { " + perms + " } for " + typeOf(denial.scontext) + " on " +
                    typeOf(denial.tcontext) + ":" + denial.tclass;
  if (!denial.path.empty()) {
    out += " path " + denial.path;
  }
  if (!denial.comm.empty()) {
    out += " comm " + denial.comm;
  }
  if (denial.pid) {
    out += " pid " + std::to_string(*denial.pid);
  }
  return out + (denial.permissive == "1" ? " (permissive: logged, not enforced)" : "");
}

}  // namespace

bool denialConcernsEndpoint(const RecentDenial& denial, const SelinuxCheckInput& input) {
  if (!input.client_domain.empty() &&
      contextType(denial.scontext) != contextType(input.client_domain)) {
    return false;
  }
  // A denial on the endpoint's file under a label the file no longer has was for the old label:
  // relabelling is how such a denial is fixed. (A socket class's target is the serving
  // socket's label, not the file's.)
  if (fileClass(denial.tclass) && !input.file_label.empty() && !denial.tcontext.empty() &&
      denial.tcontext != input.file_label) {
    return false;
  }
  if (denial.path == input.path) {
    return true;
  }
  if (endpointClass(denial.tclass)) {
    if (input.ino && denial.ino == input.ino) {
      return true;
    }
    // Records of a denied open name only the last component (name=) with the inode; without
    // an inode, the name alone is taken when it is the endpoint's own.
    if (!denial.ino && denial.path.find('/') == std::string::npos &&
        denial.path == basename(input.path)) {
      return true;
    }
    return false;
  }
  // A search denied on a parent directory: path= is the directory.
  return denial.tclass == "dir" && !denial.path.empty() && denial.path.front() == '/' &&
         input.path.starts_with(denial.path == "/" ? denial.path : denial.path + "/");
}

CheckResult checkSelinux(const SelinuxCheckInput& input, const std::vector<RecentDenial>& recent) {
  CheckResult result;
  result.name = "selinux";
  if (!input.active) {
    result.status = CheckStatus::kNotApplicable;
    result.evidence = "SELinux not active (no " + input.enforce_path + ")";
    return result;
  }
  const std::string seen =
      "file label " + (input.file_label.empty() ? "unknown" : input.file_label) +
      ", client domain " + (input.client_domain.empty() ? "unknown" : input.client_domain);
  // Newest first: the denial most worth reading.
  const RecentDenial* found = nullptr;
  std::size_t count = 0;
  bool enforced = false;
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
    if (it->seconds + kRecentDenialWindow.count() < input.now_seconds ||
        !denialConcernsEndpoint(*it, input)) {
      continue;
    }
    found = found != nullptr ? found : &*it;
    ++count;
    enforced = enforced || it->permissive != "1";
  }
  if (found == nullptr) {
    result.status = CheckStatus::kPass;
    result.evidence = seen + "; no denial for this endpoint" +
                      (input.client_domain.empty() ? "" : " and domain") + " in the last " +
                      std::to_string(kRecentDenialWindow.count() / 60) + " minutes";
    return result;
  }
  // Denials in a permissive domain are logged but not enforced: a warning, not a failure.
  result.status = enforced ? CheckStatus::kFail : CheckStatus::kWarn;
  result.evidence = seen + "; " + std::to_string(count) + " recent denial" +
                    (count == 1 ? "" : "s") + ", newest: " + denialText(*found);
  result.fix = std::string(enforced ? "SELinux denies the client"
                                    : "SELinux would deny the client "
                                      "once enforcing") +
               ": give the endpoint the label its policy expects "
               "(semanage fcontext -a -t <type> '" +
               input.path + "'; restorecon -v " + input.path +
               "), or allow it with a local policy module: " + allowRule(*found);
  return result;
}

}  // namespace ipcwatch
