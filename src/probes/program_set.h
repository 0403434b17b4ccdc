#pragma once

#include <cerrno>
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
  // The steps every probe shares: open the skeleton, autoload only the enabled programs, let
  // `configure` set rodata and map sizes, load. Null (every program degraded, with the reason
  // logged) when the object cannot be opened or loaded.
  template <typename Skel, typename Deleter, typename Configure>
  std::unique_ptr<Skel, Deleter> openAndLoad(Skel* (*open)(), int (*load)(Skel*),
                                             Configure&& configure) {
    std::unique_ptr<Skel, Deleter> skel(open());
    if (!skel) {
      failAll("open BPF object: " + libbpfErrorText(errno));
      return nullptr;
    }
    configureAutoload(skel->obj);
    configure(*skel);
    if (const int err = load(skel.get()); err != 0) {
      failAll("load BPF object: " + libbpfErrorText(-err));
      return nullptr;
    }
    return skel;
  }
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
