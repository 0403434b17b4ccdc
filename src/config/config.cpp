#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <pwd.h>
#include <set>
#include <sstream>

#include "config/trusted_file.h"
#include "config/yaml_validator.h"
#include "config/listen_address.h"

namespace ipcwatch {
namespace {

// deploy/ipcwatch.yml, the file installed as /etc/ipcwatch/ipcwatch.yml, as a raw string literal
// (CMake writes it into the build tree).
constexpr std::string_view kDefaultConfig =
#include "default_config.inc"
    ;

std::vector<std::string>& knownCollectors() {
  static std::vector<std::string> names;
  return names;
}

using Handler = YamlValidator::Handler;

void parseSyscalls(YamlValidator& v, const YAML::Node& node, const std::string& path,
                   const std::vector<std::string>& known, std::vector<std::string>& out) {
  if (!node.IsSequence()) {
    v.error(node, path, "expected a list of syscall names");
    return;
  }
  if (node.size() == 0) {
    v.error(node, path, "empty list: set enabled: false on the probe instead");
    return;
  }
  std::vector<std::string> syscalls;
  std::set<std::string> seen;
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      v.error(item, path, "expected a syscall name");
      continue;
    }
    const std::string& name = item.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      v.error(item, path,
              "unknown syscall '" + name + "' (known: " + joined(known) + ")" +
                  didYouMean(name, known));
    } else if (!seen.insert(name).second) {
      v.error(item, path, "duplicate syscall '" + name + "'");
    } else {
      syscalls.push_back(name);
    }
  }
  out = std::move(syscalls);
}

void parseProbes(YamlValidator& v, const YAML::Node& node, const std::string& path, Config& config) {
  auto& bp = config.probes.broken_pipe;
  v.mapping(
      node, path,
      {
          {"syscall_tracepoints",
           [&](const YAML::Node& n, const std::string& p) {
             v.boolean(n, p, config.probes.syscall_tracepoints);
           }},
          {"broken_pipe",
           [&](const YAML::Node& n, const std::string& p) {
             v.mapping(n, p,
                       {
                           {"enabled", [&](const YAML::Node& m,
                                           const std::string& q) { v.boolean(m, q, bp.enabled); }},
                           {"syscalls",
                            [&](const YAML::Node& m, const std::string& q) {
                              parseSyscalls(v, m, q, knownBrokenPipeSyscalls(), bp.syscalls);
                            }},
                       });
           }},
          {"sigpipe",
           [&](const YAML::Node& n, const std::string& p) {
             v.mapping(n, p,
                       {
                           {"enabled",
                            [&](const YAML::Node& m, const std::string& q) {
                              v.boolean(m, q, config.probes.sigpipe.enabled);
                            }},
                       });
           }},
          {"pipe_limits",
           [&](const YAML::Node& n, const std::string& p) {
             v.mapping(n, p,
                       {
                           {"enabled",
                            [&](const YAML::Node& m, const std::string& q) {
                              v.boolean(m, q, config.probes.pipe_limits.enabled);
                            }},
                       });
           }},
          {"fifo_open",
           [&](const YAML::Node& n, const std::string& p) {
             auto& fifo = config.probes.fifo_open;
             v.mapping(
                 n, p,
                 {
                     {"enabled", [&](const YAML::Node& m,
                                     const std::string& q) { v.boolean(m, q, fifo.enabled); }},
                     {"blocked_threshold_seconds",
                      [&](const YAML::Node& m, const std::string& q) {
                        v.number(m, q, 0.001, 3600, fifo.blocked_threshold_seconds,
                                 "a number of seconds");
                      }},
                     {"syscalls",
                      [&](const YAML::Node& m, const std::string& q) {
                        parseSyscalls(v, m, q, {"openat", "open"}, fifo.syscalls);
                      }},
                 });
           }},
          {"unix_sock",
           [&](const YAML::Node& n, const std::string& p) {
             auto& unix_sock = config.probes.unix_sock;
             v.mapping(
                 n, p,
                 {
                     {"enabled", [&](const YAML::Node& m,
                                     const std::string& q) { v.boolean(m, q, unix_sock.enabled); }},
                     {"syscalls",
                      [&](const YAML::Node& m, const std::string& q) {
                        parseSyscalls(v, m, q, {"connect", "bind"}, unix_sock.syscalls);
                      }},
                 });
           }},
      });
}

void parseWatchPaths(YamlValidator& v, const YAML::Node& node, const std::string& path,
                     Config& config) {
  if (!node.IsSequence()) {
    v.error(node, path, "expected a list of absolute paths or prefixes");
    return;
  }
  if (node.size() > kMaxWatchPaths) {
    v.error(node, path, "at most " + std::to_string(kMaxWatchPaths) + " entries");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : node) {
    std::string entry;
    v.absolutePath(item, path, entry);
    if (entry.empty()) {
      continue;
    }
    if (entry.size() > kMaxWatchPathLength) {
      v.error(item, path, "longer than " + std::to_string(kMaxWatchPathLength) + " bytes");
    } else if (!seen.insert(entry).second) {
      v.error(item, path, "duplicate path '" + entry + "'");
    } else {
      config.watch_paths.push_back(entry);
    }
  }
}

void parseScanDirectories(YamlValidator& v, const YAML::Node& node, const std::string& path,
                          std::vector<std::string>& out) {
  if (!node.IsSequence() || node.size() == 0) {
    v.error(node, path, "expected a non-empty list of absolute paths (switch the scan off with "
                        "collectors.ipc_files: false)");
    return;
  }
  std::vector<std::string> directories;
  for (const auto& item : node) {
    std::string directory;
    v.absolutePath(item, path, directory);
    if (directory.empty()) {
      continue;
    }
    if (std::find(directories.begin(), directories.end(), directory) != directories.end()) {
      v.error(item, path, "duplicate directory '" + directory + "'");
      continue;
    }
    directories.push_back(directory);
  }
  out = std::move(directories);
}

void parseScan(YamlValidator& v, const YAML::Node& node, const std::string& path, Config& config) {
  auto& scan = config.scan;
  v.mapping(node, path, {
      {"directories", [&](const YAML::Node& n, const std::string& p) {
         parseScanDirectories(v, n, p, scan.directories);
       }},
      {"max_depth", [&](const YAML::Node& n, const std::string& p) {
         v.integer(n, p, 0, 64, scan.max_depth);
       }},
      {"time_budget_seconds", [&](const YAML::Node& n, const std::string& p) {
         v.number(n, p, 0.001, 60, scan.time_budget_seconds, "a number of seconds");
       }},
  });
}

void parseInventory(YamlValidator& v, const YAML::Node& node, const std::string& path,
                    Config& config) {
  auto& inv = config.inventory;
  constexpr std::uint32_t kMaxTopN = 1000;  // per-object series are for the worst few, not all
  v.mapping(
      node, path,
      {
          {"msg_queue_top_n",
           [&](const YAML::Node& m, const std::string& q) {
             v.integer(m, q, 0, kMaxTopN, inv.msg_queue_top_n);
           }},
          {"posix_mqueue_top_n",
           [&](const YAML::Node& m, const std::string& q) {
             v.integer(m, q, 0, kMaxTopN, inv.posix_mqueue_top_n);
           }},
          {"posix_shm_top_n",
           [&](const YAML::Node& m, const std::string& q) {
             v.integer(m, q, 0, kMaxTopN, inv.posix_shm_top_n);
           }},
          {"pipe_user_top_n",
           [&](const YAML::Node& m, const std::string& q) {
             v.integer(m, q, 0, kMaxTopN, inv.pipe_user_top_n);
           }},
          {"posix_shm_dir", [&](const YAML::Node& m,
                                const std::string& q) { v.absolutePath(m, q, inv.posix_shm_dir); }},
      });
}

// A list of distinct names out of `known` (`what` names one in messages: "source", "label").
void parseNameList(YamlValidator& v, const YAML::Node& node, const std::string& path,
                   const std::vector<std::string>& known, const std::string& what,
                   std::vector<std::string>& out) {
  if (!node.IsSequence()) {
    v.error(node, path, "expected a list of " + what + "s (" + joined(known) + ")");
    return;
  }
  std::vector<std::string> names;
  for (const auto& item : node) {
    std::string name;
    v.oneOf(item, path, known, name);
    if (name.empty()) {
      continue;
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      v.error(item, path, "duplicate " + what + " '" + name + "'");
      continue;
    }
    names.push_back(name);
  }
  out = std::move(names);
}

void parseWorkload(YamlValidator& v, const YAML::Node& node, const std::string& path,
                   Config& config) {
  auto& workload = config.workload;
  v.mapping(node, path, {
      {"labels", [&](const YAML::Node& n, const std::string& p) {
         parseNameList(v, n, p, knownWorkloadLabels(), "label", workload.labels);
       }},
      {"cgroup_hierarchy", [&](const YAML::Node& n, const std::string& p) {
         v.oneOf(n, p, {"auto", "unified", "pids", "memory", "cpu"}, workload.cgroup_hierarchy);
       }},
      {"cgroup_root", [&](const YAML::Node& n, const std::string& p) {
         if (n.IsScalar() && n.Scalar().empty()) {
           workload.cgroup_root.clear();
           return;
         }
         v.absolutePath(n, p, workload.cgroup_root);
       }},
      {"pod_logs", [&](const YAML::Node& n, const std::string& p) {
         v.absolutePath(n, p, workload.pod_logs);
       }},
  });
}

void parseSelinux(YamlValidator& v, const YAML::Node& node, const std::string& path, Config& config) {
  auto& selinux = config.selinux;
  v.mapping(node, path, {
      {"sources", [&](const YAML::Node& n, const std::string& p) {
         parseNameList(v, n, p, {"netlink", "audit_log", "tracepoint"}, "source",
                       selinux.sources);
       }},
      {"audit_log", [&](const YAML::Node& n, const std::string& p) {
         v.absolutePath(n, p, selinux.audit_log);
       }},
      {"recent_denials", [&](const YAML::Node& n, const std::string& p) {
         v.integer(n, p, 0, 10000, selinux.recent_denials);
       }},
  });
}

void parseCollectors(YamlValidator& v, const YAML::Node& node, const std::string& path,
                     Config& config) {
  if (node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    v.error(node, path, "expected a mapping of collector names to true/false");
    return;
  }
  const auto& known = knownCollectors();
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string child = path + "." + name;
    if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
      v.error(entry.first, child,
              "unknown collector (known: " + joined(known) + ")" + didYouMean(name, known));
      continue;
    }
    bool enabled = true;
    v.boolean(entry.second, child, enabled);
    config.collectors[name] = enabled;
  }
}

const std::vector<std::string> kEndpointTypes = {"fifo", "unix_stream", "unix_dgram",
                                                 "unix_seqpacket"};
const std::vector<std::string> kEndpointAccesses = {"read", "write", "read_write", "connect"};

bool validEndpointName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
}

void endpointName(YamlValidator& v, const YAML::Node& node, const std::string& path,
                  std::string& out) {
  if (!v.scalar(node, path, "a name")) {
    return;
  }
  if (!validEndpointName(node.Scalar())) {
    v.error(node, path, "'" + node.Scalar() + "' is not 1-64 characters of A-Z a-z 0-9 _ - .");
    return;
  }
  out = node.Scalar();
}

void endpointServer(YamlValidator& v, const YAML::Node& node, const std::string& path,
                    EndpointServerConfig& server) {
  v.mapping(node, path, {
      {"process", [&](const YAML::Node& n, const std::string& p) {
         if (v.scalar(n, p, "a process name (comm)")) {
           if (n.Scalar().empty() || n.Scalar().size() > 15) {
             v.error(n, p, "a comm is 1-15 bytes, got '" + n.Scalar() + "'");
           } else {
             server.process = n.Scalar();
           }
         }
       }},
      {"exe", [&](const YAML::Node& n, const std::string& p) { v.absolutePath(n, p, server.exe); }},
      {"pid_file",
       [&](const YAML::Node& n, const std::string& p) { v.absolutePath(n, p, server.pid_file); }},
      {"systemd_unit", [&](const YAML::Node& n, const std::string& p) {
         if (v.scalar(n, p, "a unit name") && !n.Scalar().empty()) {
           server.systemd_unit = n.Scalar();
         }
       }},
  });
}

EndpointClientConfig endpointClient(YamlValidator& v, const YAML::Node& node, const std::string& path,
                                    EndpointType type) {
  EndpointClientConfig client;
  client.access = type == EndpointType::kFifo ? EndpointAccess::kWrite : EndpointAccess::kConnect;
  if (!node.IsMap()) {
    v.error(node, path, "expected a mapping with name, process and/or user, access");
    return client;
  }
  v.mapping(node, path, {
      {"name", [&](const YAML::Node& n, const std::string& p) { endpointName(v, n, p, client.name); }},
      {"process", [&](const YAML::Node& n, const std::string& p) {
         if (v.scalar(n, p, "a process name (comm)")) {
           if (n.Scalar().empty() || n.Scalar().size() > 15) {
             v.error(n, p, "a comm is 1-15 bytes, got '" + n.Scalar() + "'");
           } else {
             client.process = n.Scalar();
           }
         }
       }},
      {"user", [&](const YAML::Node& n, const std::string& p) {
         if (!v.scalar(n, p, "a user name, UID or UID:GID")) {
           return;
         }
         ResolvedUser resolved;
         if (!resolveUser(n.Scalar(), resolved)) {
           v.error(n, p, "unknown user '" + n.Scalar() + "' (no passwd entry; a UID or UID:GID "
                         "is accepted as it is)");
           return;
         }
         client.user = n.Scalar();
       }},
      {"access", [&](const YAML::Node& n, const std::string& p) {
         std::string access;
         v.oneOf(n, p, kEndpointAccesses, access);
         if (access.empty()) {
           return;
         }
         const bool socket = type != EndpointType::kFifo;
         if (socket && access != "connect") {
           v.error(n, p, "a socket is reached with 'connect', not '" + access + "'");
         } else if (!socket && access == "connect") {
           v.error(n, p, "a FIFO is opened for read, write or read_write, not 'connect'");
         } else {
           const auto index = std::find(kEndpointAccesses.begin(), kEndpointAccesses.end(), access) -
                              kEndpointAccesses.begin();
           client.access = static_cast<EndpointAccess>(index);
         }
       }},
  });
  if (!node["name"]) {
    v.error(node, path, "missing key 'name'");
  }
  if (!node["process"] && !node["user"]) {
    v.error(node, path, "needs 'process', 'user' or both");
  }
  return client;
}

EndpointType endpointTypeOf(const YAML::Node& node) {
  if (node && node.IsScalar()) {
    const auto it = std::find(kEndpointTypes.begin(), kEndpointTypes.end(), node.Scalar());
    if (it != kEndpointTypes.end()) {
      return static_cast<EndpointType>(it - kEndpointTypes.begin());
    }
  }
  return EndpointType::kFifo;
}

void endpointPath(YamlValidator& v, const YAML::Node& node, const std::string& path, EndpointType type,
                  std::string& out) {
  if (!v.scalar(node, path, "an absolute path or @abstract-name")) {
    return;
  }
  const std::string& text = node.Scalar();
  if (!text.empty() && text.front() == '@') {
    if (type == EndpointType::kFifo) {
      v.error(node, path, "a FIFO needs an absolute path; @names are abstract unix sockets");
    } else if (text.size() < 2 || text.size() > 107) {
      v.error(node, path, "an abstract name is 1-107 bytes after '@'");
    } else {
      out = text;
    }
    return;
  }
  // Whitespace around the path is kept: the path_clean check reports it with its fix.
  const auto first = text.find_first_not_of(" \t");
  if (text.empty() || first == std::string::npos || text[first] != '/') {
    v.error(node, path, "expected an absolute path" +
                            std::string(type == EndpointType::kFifo ? "" : " or @abstract-name") +
                            ", got '" + text + "'");
    return;
  }
  if (type != EndpointType::kFifo && text.size() > 107) {
    v.error(node, path, "a unix socket path is at most 107 bytes");
    return;
  }
  out = text;
}

void parseEndpoints(YamlValidator& v, const YAML::Node& node, const std::string& path,
                    Config& config) {
  if (node.IsNull()) {
    return;
  }
  if (!node.IsSequence()) {
    v.error(node, path, "expected a list of endpoints");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      v.error(item, at, "expected a mapping with name, path, type, server, clients");
      continue;
    }
    EndpointConfig endpoint;
    endpoint.type = endpointTypeOf(item["type"]);
    std::set<std::string> client_names;
    v.mapping(item, at, {
        {"name", [&](const YAML::Node& n, const std::string& p) {
           endpointName(v, n, p, endpoint.name);
           if (!endpoint.name.empty() && !names.insert(endpoint.name).second) {
             v.error(n, p, "duplicate endpoint name '" + endpoint.name + "'");
           }
         }},
        {"path", [&](const YAML::Node& n, const std::string& p) {
           endpointPath(v, n, p, endpoint.type, endpoint.path);
         }},
        {"type", [&](const YAML::Node& n, const std::string& p) {
           std::string type;
           v.oneOf(n, p, kEndpointTypes, type);
         }},
        {"server", [&](const YAML::Node& n, const std::string& p) {
           endpointServer(v, n, p, endpoint.server);
         }},
        {"clients", [&](const YAML::Node& n, const std::string& p) {
           if (!n.IsSequence() || n.size() == 0) {
             v.error(n, p, "expected a non-empty list of clients");
             return;
           }
           for (std::size_t j = 0; j < n.size(); ++j) {
             const std::string client_at = p + "[" + std::to_string(j) + "]";
             auto client = endpointClient(v, n[j], client_at, endpoint.type);
             if (!client.name.empty() && !client_names.insert(client.name).second) {
               v.error(n[j]["name"], client_at + ".name",
                       "duplicate client name '" + client.name + "'");
             }
             endpoint.clients.push_back(std::move(client));
           }
         }},
    });
    for (const char* required : {"name", "path", "clients"}) {
      if (!item[required]) {
        v.error(item, at, std::string("missing key '") + required + "'");
      }
    }
    config.endpoints.push_back(std::move(endpoint));
  }
}

void parseTop(YamlValidator& v, const YAML::Node& root, Config& config) {
  v.mapping(root, "", {
      {"log", [&](const YAML::Node& n, const std::string& p) {
         v.mapping(n, p, {
             {"level", [&](const YAML::Node& m, const std::string& q) {
                v.oneOf(m, q, {"trace", "debug", "info", "warn", "error", "critical", "off"},
                        config.log.level);
              }},
             {"format", [&](const YAML::Node& m, const std::string& q) {
                std::string format = "text";
                v.oneOf(m, q, {"text", "json"}, format);
                config.log.format = format == "json" ? LogFormat::kJson : LogFormat::kText;
              }},
         });
       }},
      {"web", [&](const YAML::Node& n, const std::string& p) {
         v.mapping(n, p, {
             {"listen_address", [&](const YAML::Node& m, const std::string& q) {
                if (!v.scalar(m, q, "HOST:PORT, :PORT or [IPv6]:PORT")) {
                  return;
                }
                if (!parseListenAddress(m.Scalar())) {
                  v.error(m, q, "'" + m.Scalar() +
                                    "' is not HOST:PORT, :PORT or [IPv6]:PORT with PORT 0-65535");
                  return;
                }
                config.web.listen_address = m.Scalar();
              }},
             {"config_file", [&](const YAML::Node& m, const std::string& q) {
                v.absolutePath(m, q, config.web.config_file);
              }},
             {"max_connections", [&](const YAML::Node& m, const std::string& q) {
                v.integer(m, q, 16, 1000000, config.web.max_connections);
              }},
             {"user", [&](const YAML::Node& m, const std::string& q) {
                if (!v.scalar(m, q, "a user name, UID or UID:GID")) {
                  return;
                }
                if (m.Scalar().empty() || m.Scalar() == "root" || m.Scalar() == "0" ||
                    m.Scalar().rfind("0:", 0) == 0) {
                  v.error(m, q, "'" + m.Scalar() +
                                    "': the web process parses requests from the network and "
                                    "must not run as root; name an unprivileged user");
                  return;
                }
                config.web.user = m.Scalar();
              }},
         });
       }},
      {"labels", [&](const YAML::Node& n, const std::string& p) {
         v.mapping(n, p, {
             {"comm", [&](const YAML::Node& m, const std::string& q) {
                v.integer(m, q, 1, 100000, config.labels.comm);
              }},
             {"path", [&](const YAML::Node& m, const std::string& q) {
                v.integer(m, q, 1, 100000, config.labels.path);
              }},
             {"workload", [&](const YAML::Node& m, const std::string& q) {
                v.integer(m, q, 1, 100000, config.labels.workload);
              }},
             {"folded_values_remembered", [&](const YAML::Node& m, const std::string& q) {
                v.integer(m, q, 0, 10000000, config.labels.folded_values_remembered);
              }},
         });
       }},
      {"paths", [&](const YAML::Node& n, const std::string& p) {
         v.mapping(n, p, {
             {"procfs", [&](const YAML::Node& m, const std::string& q) {
                v.absolutePath(m, q, config.paths.procfs);
              }},
             {"sysfs", [&](const YAML::Node& m, const std::string& q) {
                v.absolutePath(m, q, config.paths.sysfs);
              }},
         });
       }},
      {"probes", [&](const YAML::Node& n, const std::string& p) { parseProbes(v, n, p, config); }},
      {"watch_paths",
       [&](const YAML::Node& n, const std::string& p) { parseWatchPaths(v, n, p, config); }},
      {"scan", [&](const YAML::Node& n, const std::string& p) { parseScan(v, n, p, config); }},
      {"endpoints",
       [&](const YAML::Node& n, const std::string& p) { parseEndpoints(v, n, p, config); }},
      {"selinux", [&](const YAML::Node& n, const std::string& p) { parseSelinux(v, n, p, config); }},
      {"workload",
       [&](const YAML::Node& n, const std::string& p) { parseWorkload(v, n, p, config); }},
      {"collectors",
       [&](const YAML::Node& n, const std::string& p) { parseCollectors(v, n, p, config); }},
      {"inventory",
       [&](const YAML::Node& n, const std::string& p) { parseInventory(v, n, p, config); }},
  });
}

}  // namespace

const std::vector<std::string>& knownWorkloadLabels() {
  static const std::vector<std::string> names = {"comm",    "unit",          "container_id",
                                                 "pod_uid", "pod_namespace", "pod"};
  return names;
}

const std::vector<std::string>& knownBrokenPipeSyscalls() {
  // io_uring: the requests' completions (a BTF tracepoint), which no syscall of the list sees.
  static const std::vector<std::string> names = {"write",    "writev", "sendto",   "sendmsg",
                                                 "sendmmsg", "splice", "sendfile", "io_uring"};
  return names;
}

bool isKnownSyscall(std::string_view name) {
  const auto& names = knownBrokenPipeSyscalls();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string_view endpointTypeName(EndpointType type) {
  switch (type) {
    case EndpointType::kFifo:
      return "fifo";
    case EndpointType::kUnixStream:
      return "unix_stream";
    case EndpointType::kUnixDgram:
      return "unix_dgram";
    case EndpointType::kUnixSeqpacket:
      return "unix_seqpacket";
  }
  return "fifo";
}

std::string_view endpointAccessName(EndpointAccess access) {
  switch (access) {
    case EndpointAccess::kRead:
      return "read";
    case EndpointAccess::kWrite:
      return "write";
    case EndpointAccess::kReadWrite:
      return "read_write";
    case EndpointAccess::kConnect:
      return "connect";
  }
  return "write";
}

bool resolveUser(const std::string& user, ResolvedUser& out) {
  const auto parseId = [](std::string_view text, std::uint32_t& id) {
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
  };
  const auto colon = user.find(':');
  std::uint32_t uid = 0;
  if (parseId(std::string_view(user).substr(0, colon), uid)) {
    out.uid = uid;
    const passwd* pw = getpwuid(uid);
    out.name = pw != nullptr ? pw->pw_name : "";
    out.gid = pw != nullptr ? pw->pw_gid : uid;
    if (colon != std::string::npos) {
      return parseId(std::string_view(user).substr(colon + 1), out.gid);
    }
    return true;
  }
  const passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) {
    return false;
  }
  out = ResolvedUser{pw->pw_uid, pw->pw_gid, pw->pw_name};
  return true;
}

void setKnownCollectors(std::vector<std::string> names) { knownCollectors() = std::move(names); }

std::string_view embeddedDefaultConfig() { return kDefaultConfig; }

Config parseConfig(std::string_view yaml, std::string_view source) {
  Config config;
  config.source = std::string(source);
  YamlValidator v(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    v.errorAtMark(e.mark, "YAML syntax error: " + e.msg);
    throw ConfigError(v.errors().front());
  }
  if (root.IsDefined() && !root.IsNull()) {
    if (!root.IsMap()) {
      v.error(root, "(top level)", "expected a mapping of sections (log, web, labels, probes, "
                                   "collectors)");
    } else {
      parseTop(v, root, config);
    }
  }
  if (!v.errors().empty()) {
    throw ConfigError(v.errorText());
  }
  return config;
}

Config loadConfigFile(const std::string& path) {
  std::string text;
  try {
    text = readTrustedFile(path);
  } catch (const UntrustedFileError& e) {
    throw ConfigError(e.what());
  }
  return parseConfig(text, path);
}

}  // namespace ipcwatch
