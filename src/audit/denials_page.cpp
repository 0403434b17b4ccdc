#include "audit/denials_page.h"

#include <ctime>
#include <sstream>

#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

std::string utcTime(std::int64_t seconds, std::uint32_t millis) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03uZ", millis % 1000);
  return std::string(text) + fraction;
}

}  // namespace

std::string renderDenialsPage(const std::vector<RecentDenial>& recent) {
  std::ostringstream out;
  out << "# The last " << recent.size()
      << " SELinux denials, newest first. Each rule is what audit2allow would suggest: it "
         "shows what was refused; fix the file labels or the policy module rather than adding "
         "rules blindly.\n";
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
    const RecentDenial& d = *it;
    std::string perms;
    for (const auto& perm : d.permissions) {
      perms += " " + sanitizeLabelValue(perm);
    }
    // comm and path come from other users: escaped so they cannot forge lines.
    out << "\n"
        << utcTime(d.seconds, d.millis) << " origin=" << d.origin << " permissive=" << d.permissive
        << " source=" << d.source << "\n"
        << "  comm=\"" << sanitizeLabelValue(d.comm)
        << "\" pid=" << (d.pid ? std::to_string(*d.pid) : std::string("?")) << " path=\""
        << sanitizeLabelValue(d.path) << "\"\n"
        << "  scontext=" << sanitizeLabelValue(d.scontext)
        << " tcontext=" << sanitizeLabelValue(d.tcontext)
        << " tclass=" << sanitizeLabelValue(d.tclass) << " denied={" << perms << " }\n"
        << "  " << sanitizeLabelValue(allowRule(d)) << "\n";
  }
  return out.str();
}

}  // namespace ipcwatch
