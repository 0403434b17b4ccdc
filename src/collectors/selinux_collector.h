#pragma once

#include <string>

#include "audit/denial_store.h"
#include "metrics/collector.h"

namespace ipcwatch {

// SELinux denials and errors counted by the audit sources, the pipeline's own health, and the
// SELinux state read from selinuxfs under the configured sysfs root.
class SelinuxCollector : public Collector {
 public:
  SelinuxCollector(const DenialStore& store, std::string sysfs)
      : store_(store), selinuxfs_(std::move(sysfs) + "/fs/selinux") {}
  std::string_view name() const override { return "selinux"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  void collectState(std::vector<MetricFamily>& out) const;

  const DenialStore& store_;
  const std::string selinuxfs_;
};

}  // namespace ipcwatch
