#pragma once

#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "probes/probe.h"
#include "util/libbpf_error.h"

struct bpf_object;
struct bpf_link;
struct bpf_program;

namespace ipcwatch {

// A program that does an enabled program's work through a BPF trampoline (fentry/fexit on a
// kernel function), which costs nothing on the syscalls that do not reach that function, where a
// syscall tracepoint puts every syscall of every task on the slow path. Several programs may
// share one variant (fifo_open's fexit on do_filp_open serves the exits of open and openat).
struct TrampolineVariant {
  std::string program;   // e.g. unix_fexit_connect
  std::string function;  // the kernel function it attaches to, e.g. __sys_connect
};

// Which backend programs with a TrampolineVariant use: IPCWATCH_PROBE_BACKEND=tracepoint or
// =fexit forces one (for tests and diagnosis; fexit then never falls back), anything else or
// unset lets each program take the trampoline where the kernel allows it.
enum class BackendPreference { kAuto, kTracepoint, kTrampoline };
BackendPreference backendPreference();

// The programs of one BPF object that the configuration enables, their links and status. Shared
// by every probe: configure autoload before load, attach after, degrade per program. A program
// with a trampoline variant is loaded together with it when the kernel accepts a trampoline
// program on the variant's function. Either every variant of the set is attached, or every program
// that has one takes its tracepoint. The program's name stays the name in status() (and in
// ipcwatch_probe_attached); its backend says which one runs (fentry, fexit or tracepoint).
class ProgramSet {
 public:
  // syscall_tracepoints false (probes.syscall_tracepoints): a program on a syscall tracepoint is
  // neither loaded nor attached, and degraded; programs with a trampoline variant run only on it.
  ProgramSet(std::string probe, std::vector<std::string> enabled,
             std::map<std::string, TrampolineVariant> trampolines = {},
             bool syscall_tracepoints = true);
  ~ProgramSet();
  ProgramSet(const ProgramSet&) = delete;
  ProgramSet& operator=(const ProgramSet&) = delete;

  bool empty() const { return status_.empty(); }
  // The steps every probe shares: open the skeleton, autoload only the enabled programs, let
  // `configure` set rodata and map sizes, load. Null (every program degraded, with the reason
  // logged) when the object cannot be opened or loaded.
  // When the object does not load with the trampoline variants, it is opened and loaded again
  // without them.
  template <typename Skel, typename Deleter, typename Configure>
  std::unique_ptr<Skel, Deleter> openAndLoad(Skel* (*open)(), int (*load)(Skel*),
                                             Configure&& configure) {
    for (;;) {
      std::unique_ptr<Skel, Deleter> skel(open());
      if (!skel) {
        failAll("open BPF object: " + libbpfErrorText(errno));
        return nullptr;
      }
      configureAutoload(skel->obj);
      configure(*skel);
      const int err = load(skel.get());
      if (err == 0) {
        return skel;
      }
      if (!loadedWithoutTrampolines(libbpfErrorText(-err))) {
        failAll("load BPF object: " + libbpfErrorText(-err));
        return nullptr;
      }
    }
  }
  // Turns autoload off for every program of obj that is neither enabled nor a trampoline
  // variant to try (call before load).
  void configureAutoload(bpf_object* obj) const;
  // After a failed load: whether to load again, without the trampoline variants (they are
  // dropped, and the reason logged and kept for their programs' status).
  bool loadedWithoutTrampolines(const std::string& error);
  // Records that the object could not be opened or loaded: every program is degraded.
  void failAll(const std::string& what);
  // Before load: an enabled program that this kernel cannot run correctly (checked by the probe)
  // is neither loaded nor attached, and stays degraded with `why`.
  void markUnavailable(const std::string& name, const std::string& why);
  // Attaches every enabled program, mounting tracefs first when a classic tracepoint needs it.
  void attach(bpf_object* obj);
  // Destroys the links (detaches); the object itself is owned by the probe.
  void detach();

  const std::vector<ProgramStatus>& status() const { return status_; }

 private:
  struct LinkDeleter {
    void operator()(bpf_link* link) const;
  };

  // Attaches one program; "" or why it could not be attached.
  std::string attachProgram(bpf_program* prog);
  // Attaches every trampoline variant, all or none: variants may share a program and split a
  // tracepoint's work differently (fifo_open's fentry starts what its fexit ends), so a mix of
  // the two backends in one probe would count twice or not at all. "" when they run, else why
  // they do not (their programs then take their tracepoints).
  std::string attachTrampolines(bpf_object* obj);

  std::string probe_;
  std::vector<ProgramStatus> status_;
  std::map<std::string, TrampolineVariant> trampolines_;
  BackendPreference preference_;
  bool syscall_tracepoints_;
  // The variants loaded with the object (the kernel accepts a trampoline on their function).
  std::set<std::string> trying_;
  std::string trampoline_load_error_;  // why the object did not load with them, if it did not
  std::set<std::string> unavailable_;  // enabled programs markUnavailable() ruled out
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links_;
};

}  // namespace ipcwatch
