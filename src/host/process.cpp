#include "host/process.hpp"

#include "host/home.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace honeycomb::host {

std::vector<char*> exec_argv(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const auto& s : strings) {
    // exec and posix_spawn take char* const[] but do not write through it.
    pointers.push_back(const_cast<char*>(s.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  pointers.push_back(nullptr);
  return pointers;
}

std::optional<pid_t> read_pidfile(const std::filesystem::path& pidfile) {
  auto text = read_text_file(pidfile);
  if (!text) {
    return std::nullopt;
  }
  try {
    const long pid = std::stol(*text);
    if (pid <= 0) {
      return std::nullopt;
    }
    return static_cast<pid_t>(pid);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool process_alive(pid_t pid) {
  if (pid <= 0) {
    return false;
  }
  if (::kill(pid, 0) == 0) {
    // A zombie still answers kill(0); look at its state.
    auto stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
    if (stat) {
      const auto close = stat->rfind(')');
      if (close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z') {
        return false;
      }
    }
    return true;
  }
  return errno == EPERM;
}

bool write_pidfile(const std::filesystem::path& pidfile, std::string& error) {
  return write_text_file(pidfile, std::to_string(::getpid()) + "\n", error);
}

DaemonState daemon_state(const std::filesystem::path& pidfile, pid_t* pid_out) {
  std::error_code ec;
  if (!std::filesystem::exists(pidfile, ec)) {
    return DaemonState::not_running;
  }
  auto pid = read_pidfile(pidfile);
  if (pid && process_alive(*pid)) {
    if (pid_out != nullptr) {
      *pid_out = *pid;
    }
    return DaemonState::running;
  }
  return DaemonState::stale_pidfile;
}

pid_t daemonize(const std::filesystem::path& stdout_log, const std::filesystem::path& stderr_log, int& status_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return -1;
  }
  const pid_t first = ::fork();
  if (first < 0) {
    return -1;
  }
  if (first > 0) {
    // Parent: reap the intermediate child; the grandchild reports on the pipe.
    ::close(fds[1]);
    int st = 0;
    while (::waitpid(first, &st, 0) < 0 && errno == EINTR) {
    }
    status_fd = fds[0];
    pid_t daemon_pid = 0;
    if (::read(fds[0], &daemon_pid, sizeof daemon_pid) != sizeof daemon_pid) {
      ::close(fds[0]);
      return -1;
    }
    return daemon_pid;
  }
  ::close(fds[0]);
  ::setsid();
  const pid_t second = ::fork();
  if (second < 0) {
    ::_exit(1);
  }
  if (second > 0) {
    ::_exit(0);
  }
  const pid_t me = ::getpid();
  (void)!::write(fds[1], &me, sizeof me);
  std::error_code ec;
  std::filesystem::create_directories(stdout_log.parent_path(), ec);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = ::open(stdout_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  const int err = ::open(stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (in >= 0) {
    ::dup2(in, STDIN_FILENO);
    ::close(in);
  }
  if (out >= 0) {
    ::dup2(out, STDOUT_FILENO);
    ::close(out);
  }
  if (err >= 0) {
    ::dup2(err, STDERR_FILENO);
    ::close(err);
  }
  ::umask(027);
  status_fd = fds[1];
  return 0;
}

bool wait_for_startup(int status_fd, int timeout_ms) {
  pollfd p{status_fd, POLLIN, 0};
  int rc = 0;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  char byte = '0';
  const bool ok = rc > 0 && ::read(status_fd, &byte, 1) == 1 && byte == '1';
  ::close(status_fd);
  return ok;
}

}  // namespace honeycomb::host
