// libFuzzer target: any bytes as an audit.log line and as a netlink record body must parse
// without crashing, and what parses as a denial must carry what counting relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "audit/avc_record_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& record : ipcwatch::parseAuditLine(text)) {
    if (record.kind == ipcwatch::AuditRecordKind::kAvc &&
        (record.avc.permissions.empty() || record.avc.tclass.empty() || !record.id)) {
      std::abort();
    }
  }
  for (const char* type : {"AVC", "USER_AVC", "SELINUX_ERR"}) {
    const auto record = ipcwatch::parseAuditRecord(type, text);
    if (record.kind == ipcwatch::AuditRecordKind::kMalformed && record.error.empty()) {
      std::abort();
    }
    (void)ipcwatch::contextType(record.avc.scontext);
  }
  return 0;
}
