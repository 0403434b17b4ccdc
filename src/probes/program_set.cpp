#include "probes/program_set.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "probes/tracefs.h"

namespace ipcwatch {

void ProgramSet::LinkDeleter::operator()(bpf_link* link) const {
  bpf_link__destroy(link);
}

namespace {

// Whether a trampoline program on `function` loads on this kernel: the function is in the
// kernel's BTF (`vmlinux`) and the kernel accepts an empty fexit program on it. A kernel built
// without ftrace refuses it (EPERM here), and libbpf would otherwise fail the whole object's
// load, loudly, before the fallback.
bool trampolineLoads(const btf* vmlinux, const std::string& function) {
  const int id =
      vmlinux != nullptr ? btf__find_by_name_kind(vmlinux, function.c_str(), BTF_KIND_FUNC) : -1;
  if (id <= 0) {
    return false;
  }
  const bpf_insn program[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                   // exit
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
              .attach_btf_id = static_cast<__u32>(id));
  const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, nullptr, "GPL", program, 2, &opts);
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

}  // namespace

BackendPreference backendPreference() {
  const char* value = std::getenv("IPCWATCH_PROBE_BACKEND");
  const std::string text = value != nullptr ? value : "";
  if (text == "tracepoint") {
    return BackendPreference::kTracepoint;
  }
  if (text == "fexit") {
    return BackendPreference::kTrampoline;
  }
  if (!text.empty() && text != "auto") {
    static std::once_flag warned;
    std::call_once(warned, [&text] {
      spdlog::warn("IPCWATCH_PROBE_BACKEND={}: not one of auto, tracepoint, fexit; using auto",
                   text);
    });
  }
  return BackendPreference::kAuto;
}

ProgramSet::ProgramSet(std::string probe, std::vector<std::string> enabled,
                       std::map<std::string, TrampolineVariant> trampolines,
                       bool syscall_tracepoints)
    : probe_(std::move(probe)),
      preference_(backendPreference()),
      syscall_tracepoints_(syscall_tracepoints) {
  // The kernel's BTF (megabytes parsed) only while the variants are checked, never kept.
  std::unique_ptr<btf, void (*)(btf*)> vmlinux(nullptr, btf__free);
  for (auto& name : enabled) {
    const auto variant = trampolines.find(name);
    if (variant != trampolines.end()) {
      trampolines_.insert(*variant);
      if (preference_ != BackendPreference::kTracepoint) {
        if (!vmlinux) {
          vmlinux.reset(btf__load_vmlinux_btf());
        }
        if (trampolineLoads(vmlinux.get(), variant->second.function)) {
          trying_.insert(name);
        }
      }
    }
    status_.push_back({std::move(name), false, "not attached", ""});
  }
}

ProgramSet::~ProgramSet() = default;

void ProgramSet::configureAutoload(bpf_object* obj) const {
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    const std::string name = bpf_program__name(prog);
    bool on = false;
    for (const auto& s : status_) {
      on = on || (s.name == name && unavailable_.count(name) == 0) ||
           (trying_.count(s.name) != 0 && trampolines_.at(s.name).program == name);
    }
    if (!syscall_tracepoints_ && bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT) {
      on = false;
    }
    bpf_program__set_autoload(prog, on);
  }
}

bool ProgramSet::loadedWithoutTrampolines(const std::string& error) {
  if (trying_.empty()) {
    return false;
  }
  spdlog::info(
      "{} probe: its BPF trampoline programs do not load here ({}); loading it again "
      "without them",
      probe_, error);
  trampoline_load_error_ = error;
  trying_.clear();
  return true;
}

std::string ProgramSet::attachProgram(bpf_program* prog) {
  bpf_link* link = bpf_program__attach(prog);
  if (link == nullptr) {
    return "attach: " + libbpfErrorText(errno);
  }
  links_.emplace_back(link);
  return "";
}

void ProgramSet::markUnavailable(const std::string& name, const std::string& why) {
  for (auto& s : status_) {
    if (s.name == name) {
      s.error = why;
      unavailable_.insert(name);
      spdlog::warn("{} probe: program {} degraded: {}", probe_, name, why);
    }
  }
}

void ProgramSet::failAll(const std::string& what) {
  spdlog::warn("{} probe degraded: {}", probe_, what);
  for (auto& s : status_) {
    s.error = what;
  }
}

std::string ProgramSet::attachTrampolines(bpf_object* obj) {
  if (preference_ == BackendPreference::kTracepoint) {
    return "IPCWATCH_PROBE_BACKEND=tracepoint";
  }
  if (!trampoline_load_error_.empty()) {
    return "the trampoline programs do not load: " + trampoline_load_error_;
  }
  for (const auto& [name, variant] : trampolines_) {
    if (trying_.count(name) == 0) {
      return "the kernel refuses a trampoline program on " + variant.function +
             " (no ftrace, or not in its BTF)";
    }
  }
  const std::size_t first_link = links_.size();
  std::map<std::string, std::string> attached;  // variant program -> its section's kind
  for (const auto& [name, variant] : trampolines_) {
    if (attached.count(variant.program) != 0) {
      continue;
    }
    bpf_program* prog = bpf_object__find_program_by_name(obj, variant.program.c_str());
    const std::string why =
        prog == nullptr ? "program not found in BPF object" : attachProgram(prog);
    if (!why.empty()) {
      links_.resize(first_link);  // none, rather than some
      return variant.program + " on " + variant.function + ": " + why;
    }
    const std::string section = bpf_program__section_name(prog);
    attached.emplace(variant.program, section.substr(0, section.find('/')));
  }
  for (auto& s : status_) {
    if (const auto variant = trampolines_.find(s.name); variant != trampolines_.end()) {
      s.attached = true;
      s.error.clear();
      s.backend = attached.at(variant->second.program);
    }
  }
  return "";
}

void ProgramSet::attach(bpf_object* obj) {
  const std::string no_trampolines = trampolines_.empty() ? "" : attachTrampolines(obj);
  // Mounted only when a classic tracepoint is about to be attached (not for trampolines).
  std::optional<std::string> tracefs_error;
  for (auto& s : status_) {
    if (s.attached || unavailable_.count(s.name) != 0) {
      continue;  // on its trampoline variant, or not for this kernel
    }
    if (const auto variant = trampolines_.find(s.name); variant != trampolines_.end()) {
      if (preference_ == BackendPreference::kTrampoline) {
        s.error = "no BPF trampoline: " + no_trampolines + " (IPCWATCH_PROBE_BACKEND=fexit)";
        spdlog::warn("{} probe: program {} degraded: {}", probe_, s.name, s.error);
        continue;
      }
      spdlog::debug("{} probe: {} on its tracepoint, not on {}: {}", probe_, s.name,
                    variant->second.function, no_trampolines);
    }
    bpf_program* prog = bpf_object__find_program_by_name(obj, s.name.c_str());
    if (prog == nullptr) {
      s.error = "program not found in BPF object";
      spdlog::warn("{} probe: program {} degraded: {}", probe_, s.name, s.error);
      continue;
    }
    const bool tracepoint = bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT;
    if (tracepoint && !syscall_tracepoints_) {
      s.error = "on a syscall tracepoint, which probes.syscall_tracepoints: false rules out";
      if (trampolines_.count(s.name) != 0) {
        s.error += "; no BPF trampoline instead: " + no_trampolines;
      }
      spdlog::warn("{} probe: program {} degraded: {}", probe_, s.name, s.error);
      continue;
    }
    if (tracepoint && !tracefs_error) {
      tracefs_error = ensureTracefsMounted();
    }
    if (const std::string error = attachProgram(prog); !error.empty()) {
      s.error = error;
      if (tracepoint && !tracefs_error->empty()) {
        s.error += " (" + *tracefs_error + ")";
      }
      spdlog::warn("{} probe: program {} degraded: {}", probe_, s.name, s.error);
      continue;
    }
    s.attached = true;
    s.error.clear();
    const std::string section = bpf_program__section_name(prog);
    s.backend = section.substr(0, section.find('/'));
  }
  if (!trampolines_.empty()) {
    if (no_trampolines.empty()) {
      spdlog::info("{} probe: on BPF trampolines (fentry/fexit)", probe_);
    } else if (!syscall_tracepoints_) {
      spdlog::warn(
          "{} probe: not on BPF trampolines ({}), and not on syscall tracepoints "
          "(probes.syscall_tracepoints: false): its syscall programs are degraded",
          probe_, no_trampolines);
    } else {
      spdlog::info("{} probe: on tracepoints, not on BPF trampolines: {}", probe_, no_trampolines);
    }
  }
}

void ProgramSet::detach() {
  // Closing a tracepoint link waits for an RCU grace period (~60-90 ms each here); closing them
  // in parallel lets the waits overlap, so SIGTERM stops the agent well within a second.
  std::vector<std::thread> closers;
  closers.reserve(links_.size());
  for (auto& link : links_) {
    closers.emplace_back([owned = std::move(link)]() mutable { owned.reset(); });
  }
  for (auto& closer : closers) {
    closer.join();
  }
  links_.clear();
  for (auto& s : status_) {
    s.attached = false;
    s.backend.clear();
  }
}

}  // namespace ipcwatch
