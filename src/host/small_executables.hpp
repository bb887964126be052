// The small executables: `honeycomb-service` (one service),
// `honeycomb-node` (the node) and `honeycomb-core` (the core on SQLite),
// each linked statically with only what its job needs.
//
// `honeycomb service run`, `honeycomb node` and `honeycomb core` parse the
// command line and the configuration with the whole CLI (CLI11, yaml-cpp,
// the core, the node, the services all linked in, with the shared C++
// runtime), then replace themselves with the small executable. The process
// keeps its pid, its arguments' meaning and its exit code; what it sheds is
// every page the big image and its shared libraries brought in at start-up,
// which is most of a long-running process's resident memory at idle
// (docs/BENCHMARKS.md, "Idle memory": 9 MB -> about 4 MB for a service,
// 12.5 MB -> 8.7 MB for a core).
//
// A process stays in `honeycomb` when the small executable could not do the
// same job:
//  - a core on PostgreSQL: libpq is loaded when the store opens, and a
//    static executable cannot load it;
//  - a service with C++ plugin code (`<name>_service.so`): the plugin shares
//    the host's libstdc++.so, and a static executable cannot load it;
//  - name services other than those built into glibc in nsswitch.conf
//    (LDAP, SSSD, mDNS...): a static executable cannot load NSS modules;
//  - file capabilities (cap_net_bind_service given to `honeycomb`): they
//    end at exec;
//  - $HONEYCOMB_SMALL_EXEC=0, or no small executable next to `honeycomb`.
#pragma once

#include "host/runner.hpp"

#include <optional>
#include <string>
#include <vector>

namespace honeycomb::host {

/// The small executables' names, next to `honeycomb` in the same folder.
inline constexpr const char* service_executable_name = "honeycomb-service";
inline constexpr const char* node_executable_name = "honeycomb-node";
inline constexpr const char* core_executable_name = "honeycomb-core";

/// The arguments (without argv[0]) that make `honeycomb-service` run
/// `request`. Values are passed as whole arguments: no quoting.
std::vector<std::string> service_exec_arguments(const RunRequest& request);

/// Parses what service_exec_arguments() wrote; nullopt (with `error` set)
/// for anything else.
std::optional<RunRequest> parse_service_exec_arguments(const std::vector<std::string>& arguments, std::string& error);

/// True when the service's folder holds C++ plugin code
/// (`<name>_service.so`), which only the `honeycomb` executable can load.
bool has_native_plugin_code(const plugin::ServiceSpec& spec);

/// Whether the small executable resolves names as this system does: it is
/// linked statically, so of nsswitch.conf it has only the sources built into
/// glibc (`files` for accounts; `files dns` for host names) and uses them
/// alone (use_built_in_name_services()). True when `nsswitch_conf`
/// (the file's text; empty when there is none) lists nothing else for
/// passwd, group and hosts, apart from `systemd` for accounts (systemd's
/// dynamic users, which a honeypot's run_as does not name).
bool small_executable_resolves_names(const std::string& nsswitch_conf);

/// Makes this (statically linked) process use only the name services built
/// into glibc. Loading any other NSS module into a static binary would load
/// a second libc, and crashes.
void use_built_in_name_services();

/// Replaces this process with the small executable `name` (a sibling of
/// this one) given `arguments` (without argv[0]), unless one of the reasons
/// above keeps it here. Returns only when it did not: the caller then does
/// the job in this process.
void exec_small_executable(const char* name, const std::vector<std::string>& arguments);

/// exec_small_executable() for `honeycomb service run`, unless the service
/// has C++ plugin code.
void exec_service_executable(const RunRequest& request);

/// The `honeycomb` executable: this one, or from a small executable the
/// `honeycomb` next to it (the node starts its pots with it).
std::filesystem::path honeycomb_executable();

}  // namespace honeycomb::host
