#pragma once

#include <memory>
#include <string>
#include <vector>

#include "probes/probe.h"
#include "util/libbpf_error.h"

struct bpf_object;
struct bpf_link;

namespace ipcwatch {

// The programs of one BPF object that the configuration enables, their links and status. Shared
// by every probe: configure autoload before load, attach after, degrade per program.
class ProgramSet {
 public:
  ProgramSet(std::string probe, std::vector<std::string> enabled);
  ~ProgramSet();
  ProgramSet(const ProgramSet&) = delete;
  ProgramSet& operator=(const ProgramSet&) = delete;

  bool empty() const { return status_.empty(); }
  // Turns autoload off for every program of obj that is not enabled (call before load).
  void configureAutoload(bpf_object* obj) const;
  // Records that the object could not be opened or loaded: every program is degraded.
  void failAll(const std::string& what);
  // Attaches every enabled program, mounting tracefs first when a classic tracepoint needs it.
  void attach(bpf_object* obj);
  // Destroys the links (detaches); the object itself is owned by the probe.
  void detach();

  const std::vector<ProgramStatus>& status() const { return status_; }

 private:
  struct LinkDeleter {
    void operator()(bpf_link* link) const;
  };

  std::string probe_;
  std::vector<ProgramStatus> status_;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links_;
};

}  // namespace ipcwatch
