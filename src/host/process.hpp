// Process helpers: exec argument arrays, and for daemons pidfiles,
// liveness, daemonizing.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace honeycomb::host {

/// `strings` as the null-terminated array execv()/posix_spawn() take; the
/// pointers are valid while `strings` lives and is not changed. Built
/// before a fork (it allocates), not between fork and exec.
std::vector<char*> exec_argv(const std::vector<std::string>& strings);

/// The pid stored in `pidfile`, or nullopt when missing or unreadable.
std::optional<pid_t> read_pidfile(const std::filesystem::path& pidfile);
/// True when a process with this pid exists.
bool process_alive(pid_t pid);
/// Writes our pid atomically; false with `error` set on failure.
bool write_pidfile(const std::filesystem::path& pidfile, std::string& error);

/// What `service status` reports.
enum class DaemonState { running, not_running, stale_pidfile };
DaemonState daemon_state(const std::filesystem::path& pidfile, pid_t* pid_out);

/// Forks into the background: the parent gets the child's pid and a file
/// descriptor on which the child reports start-up (one byte: '1' ready,
/// '0' failed); the child (returns 0) is detached from the terminal with
/// stdout/stderr redirected to the given files. -1 on error.
pid_t daemonize(const std::filesystem::path& stdout_log, const std::filesystem::path& stderr_log, int& status_fd);

/// Waits up to `timeout_ms` for the start-up byte; true when the child
/// reported ready.
bool wait_for_startup(int status_fd, int timeout_ms);

}  // namespace honeycomb::host
