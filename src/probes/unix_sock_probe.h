#pragma once

#include <memory>
#include <string>
#include <vector>

#include "probes/probe.h"
#include "probes/program_set.h"

struct unix_sock_bpf;

namespace ipcwatch {

struct UnixSockProbeOptions {
  std::vector<std::string> syscalls = {"connect", "bind"};
  bool syscall_tracepoints = true;  // false: on BPF trampolines or not at all (ProgramSet)
  std::uint32_t map_entries = 4096;
};

// Owns the unix_sock BPF skeleton: failed connect()/bind() on AF_UNIX sockets, counted in
// per-CPU maps by path, errno and network namespace.
class UnixSockProbe : public Probe {
 public:
  explicit UnixSockProbe(UnixSockProbeOptions options);
  ~UnixSockProbe() override;
  UnixSockProbe(const UnixSockProbe&) = delete;
  UnixSockProbe& operator=(const UnixSockProbe&) = delete;

  std::vector<ProgramStatus> programs() const override { return programs_.status(); }
  void detach() override { programs_.detach(); }
  // "unix_connect" / "unix_bind": failures not counted because the map was full.
  std::vector<LostEvents> lostEvents() const override;
  bool loaded() const { return skel_ != nullptr; }

  int connectErrorsFd() const;
  int bindErrorsFd() const;

 private:
  struct SkeletonDeleter {
    void operator()(unix_sock_bpf* skel) const;
  };

  UnixSockProbeOptions options_;
  std::unique_ptr<unix_sock_bpf, SkeletonDeleter> skel_;
  ProgramSet programs_;
};

}  // namespace ipcwatch
