#include "probes/program_set.h"

#include <algorithm>
#include <cerrno>
#include <thread>

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include "probes/tracefs.h"

namespace ipcwatch {

void ProgramSet::LinkDeleter::operator()(bpf_link* link) const {
  bpf_link__destroy(link);
}

ProgramSet::ProgramSet(std::string probe, std::vector<std::string> enabled)
    : probe_(std::move(probe)) {
  for (auto& name : enabled) {
    status_.push_back({std::move(name), false, "not attached", ""});
  }
}

ProgramSet::~ProgramSet() = default;

void ProgramSet::configureAutoload(bpf_object* obj) const {
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    const std::string name = bpf_program__name(prog);
    const bool on = std::any_of(status_.begin(), status_.end(),
                                [&](const ProgramStatus& s) { return s.name == name; });
    bpf_program__set_autoload(prog, on);
  }
}

void ProgramSet::failAll(const std::string& what) {
  spdlog::warn("{} probe degraded: {}", probe_, what);
  for (auto& s : status_) {
    s.error = what;
  }
}

void ProgramSet::attach(bpf_object* obj) {
  bool needs_tracefs = false;
  for (const auto& s : status_) {
    const bpf_program* prog = bpf_object__find_program_by_name(obj, s.name.c_str());
    needs_tracefs =
        needs_tracefs || (prog != nullptr && bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT);
  }
  const std::string tracefs_error = needs_tracefs ? ensureTracefsMounted() : std::string();
  for (auto& s : status_) {
    bpf_program* prog = bpf_object__find_program_by_name(obj, s.name.c_str());
    if (prog == nullptr) {
      s.error = "program not found in BPF object";
    } else if (bpf_link* link = bpf_program__attach(prog)) {
      links_.emplace_back(link);
      s.attached = true;
      s.error.clear();
      const std::string section = bpf_program__section_name(prog);
      s.backend = section.substr(0, section.find('/'));
      continue;
    } else {
      s.error = "attach: " + libbpfErrorText(errno);
      if (!tracefs_error.empty() && bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT) {
        s.error += " (" + tracefs_error + ")";
      }
    }
    spdlog::warn("{} probe: program {} degraded: {}", probe_, s.name, s.error);
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
