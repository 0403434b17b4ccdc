#include "collectors/unix_socket_collector.h"

#include <linux/unix_diag.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "metrics/family.h"

namespace ipcwatch {
namespace {

constexpr const char* kQueueMetric = "ipc_unix_listen_queue";

}  // namespace

struct UnixSocketCollector::Listener {
  std::string netns;
  std::string path;
  double queue = 0;
  double backlog = 0;

  // How close the accept queue is to refusing clients: 1 at the backlog, above 1 when full
  // (the kernel queues backlog + 1 connections).
  double fullness() const { return queue / std::max(backlog, 1.0); }
};

UnixSocketCollector::UnixSocketCollector(HostSnapshotSource& snapshots, LabelCaps& caps,
                                         std::map<std::string, std::uint64_t>* parse_errors)
    : snapshots_(snapshots),
      path_cap_(caps.gaugePath(kQueueMetric)),
      parse_errors_(parse_errors != nullptr ? *parse_errors : own_parse_errors_) {}

void UnixSocketCollector::countParseErrors(const UnixSocketInventory& inventory) {
  if (inventory.parse_errors.empty()) {
    return;
  }
  parse_errors_[inventory.from_procfs ? "proc_net_unix" : "unix_diag"] +=
      inventory.parse_errors.size();
  // Warn once; later scrapes repeat the same input, so they log at debug.
  const auto level = parse_error_logged_ ? spdlog::level::debug : spdlog::level::warn;
  spdlog::log(level, "unix sockets: {} parse errors, first: {}", inventory.parse_errors.size(),
              inventory.parse_errors.front());
  parse_error_logged_ = true;
}

void UnixSocketCollector::collect(std::vector<MetricFamily>& out) {
  const auto snapshot = snapshots_.current();
  const UnixSocketInventory& inventory = snapshot->unixSockets();
  countParseErrors(inventory);  // one read per scrape: its errors are counted once

  FamilyBuilder counts("ipc_unix_sockets",
                       "Unix sockets, by network namespace (inode), type and state.",
                       MetricType::Gauge);
  FamilyBuilder netns("ipc_netns",
                      "Network namespaces (by inode), with their ip-netns name where they have "
                      "one; always 1.",
                      MetricType::Gauge);
  std::vector<Listener> listeners;
  for (const auto& entry : inventory.namespaces) {
    if (!entry.ok) {
      const auto level = entry.vanished ? spdlog::level::debug : spdlog::level::warn;
      spdlog::log(level, "unix sockets of netns {} ({}): {}", entry.ns.inode, entry.ns.ns_path,
                  entry.error);
      continue;
    }
    const std::string ns = std::to_string(entry.ns.inode);
    netns.set({{"name", entry.ns.name}, {"netns", ns}}, 1);
    // Tens of thousands of sockets fall into a handful of (type, state) pairs: count them by
    // the pair's names first, and build label sets per pair, not per socket.
    std::map<std::pair<std::string_view, std::string_view>, double> by_kind;
    for (const auto& socket : entry.sockets) {
      by_kind[{unixSocketTypeName(socket.type), unixSocketStateName(socket.state)}] += 1;
    }
    for (const auto& [kind, n] : by_kind) {
      counts.add({{"netns", ns},
                  {"socket_type", std::string(kind.first)},
                  {"state", std::string(kind.second)}},
                 n);
    }
    for (const auto& socket : entry.sockets) {
      if (socket.state != UnixSocketState::kListening || !socket.has_rqlen) {
        continue;
      }
      listeners.push_back({ns, unixSocketDisplayName(socket.name),
                           static_cast<double>(socket.rqueue), static_cast<double>(socket.wqueue)});
    }
  }
  FamilyBuilder errors("ipcwatch_unix_socket_parse_errors_total",
                       "Records of /proc/net/unix or unix_diag replies that could not be parsed.",
                       MetricType::Counter);
  for (const auto& [source, n] : parse_errors_) {
    errors.set({{"source", source}}, static_cast<double>(n));
  }
  if (netns.empty() && !inventory.namespaces.empty()) {
    throw std::runtime_error("no network namespace could be queried: " +
                             inventory.namespaces.front().error);
  }
  for (auto* family : {&counts, &netns, &errors}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
  addListenQueues(listeners, out);
}

// The fullest queues of this scrape keep their path; the rest of each namespace are shown by
// the fullest of them as path="other", with its own backlog, so that "queue > backlog" still
// compares one socket's numbers.
void UnixSocketCollector::addListenQueues(const std::vector<Listener>& listeners,
                                          std::vector<MetricFamily>& out) {
  if (listeners.empty()) {
    return;
  }
  std::vector<std::pair<std::string, double>> candidates;
  candidates.reserve(listeners.size());
  for (const auto& listener : listeners) {
    candidates.emplace_back(listener.path, listener.fullness());
  }
  const auto admitted = path_cap_.admit(std::move(candidates));
  FamilyBuilder queue(kQueueMetric,
                      "Connections waiting in the accept queue of a listening unix socket; "
                      "clients get EAGAIN/ECONNREFUSED once it exceeds the backlog. "
                      "path=\"other\": the fullest of the listeners past the label cap.",
                      MetricType::Gauge);
  FamilyBuilder queue_max("ipc_unix_listen_queue_max",
                          "Backlog of a listening unix socket (the value given to listen()).",
                          MetricType::Gauge);
  std::map<std::string_view, const Listener*> fullest_folded;  // by netns
  for (const auto& listener : listeners) {
    if (admitted.contains(listener.path)) {
      const LabelSet labels{{"netns", listener.netns}, {"path", listener.path}};
      queue.add(labels, listener.queue);
      queue_max.add(labels, listener.backlog);
      continue;
    }
    const Listener*& fullest = fullest_folded[listener.netns];
    if (fullest == nullptr || listener.fullness() > fullest->fullness() ||
        (listener.fullness() == fullest->fullness() && listener.queue > fullest->queue)) {
      fullest = &listener;
    }
  }
  for (const auto& [ns, listener] : fullest_folded) {
    const LabelSet labels{{"netns", std::string(ns)},
                          {"path", std::string(ScrapeLabelCap::kOther)}};
    queue.set(labels, listener->queue);
    queue_max.set(labels, listener->backlog);
  }
  out.push_back(queue.build());
  out.push_back(queue_max.build());
}

}  // namespace ipcwatch
