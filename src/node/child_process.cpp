#include "node/child_process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/close_range.h>
#include <map>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace honeycomb::node {

namespace fs = std::filesystem;

std::optional<fs::path> find_executable(const std::string& name) {
  if (name.empty()) {
    return std::nullopt;
  }
  if (name.find('/') != std::string::npos) {
    return fs::path(name);
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    const fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return fmt::format("exited with code {}", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("killed by signal {} (SIG{})", sig, name != nullptr ? name : "?");
  }
  return "stopped";
}

namespace {

/// Written by the child when exec fails: which step, and errno.
struct ExecFailure {
  int step = 0;  // 1 chdir, 2 exec, 3 descriptors
  int error = 0;
};

void write_failure(int fd, int step) {
  const ExecFailure f{step, errno};
  [[maybe_unused]] const auto n = ::write(fd, &f, sizeof f);
  ::_exit(127);
}

}  // namespace

std::variant<pid_t, std::string> spawn_child(const ChildCommand& command) {
  if (command.argv.empty()) {
    return std::string("empty command");
  }
  const auto exe = find_executable(command.argv.front());
  if (!exe) {
    return fmt::format("command not found: {}", command.argv.front());
  }
  // Everything the child needs is built before fork(): after it, in a
  // multithreaded process, only async-signal-safe calls are allowed.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos) {
      env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  }
  for (const auto& [name, value] : command.env) {
    env[name] = value;
  }
  std::vector<std::string> env_text;
  env_text.reserve(env.size());
  for (const auto& [name, value] : env) {
    std::string entry = name;
    entry += '=';
    entry += value;
    env_text.push_back(std::move(entry));
  }
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (auto& e : env_text) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> argv_text = command.argv;
  std::vector<char*> argv;
  argv.reserve(argv_text.size() + 1);
  for (auto& a : argv_text) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const std::string exe_text = exe->string();
  const std::string workdir = command.workdir.string();

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return fmt::format("pipe: {}", std::strerror(errno));
  }
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(report[0]);
    ::close(report[1]);
    if (devnull >= 0) {
      ::close(devnull);
    }
    return fmt::format("fork: {}", std::strerror(e));
  }
  if (pid == 0) {
    // The child: its own process group; SIGTERM when the node dies (and
    // if it already died, stop at once rather than run orphaned).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT}) {
      ::signal(sig, SIG_DFL);
    }
    const int out = command.stdout_fd >= 0 ? command.stdout_fd : devnull;
    const int err = command.stderr_fd >= 0 ? command.stderr_fd : devnull;
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
      write_failure(report[1], 3);
    }
    // Nothing else of the node's crosses exec: every descriptor above 2
    // becomes close-on-exec (the report pipe already is).
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      const long max_fd = ::sysconf(_SC_OPEN_MAX);
      for (int fd = 3; fd < (max_fd > 0 ? max_fd : 1024); ++fd) {
        if (fd != report[1]) {
          ::close(fd);
        }
      }
    }
    if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) {
      write_failure(report[1], 1);
    }
    ::execve(exe_text.c_str(), argv.data(), envp.data());
    write_failure(report[1], 2);
  }
  ::close(report[1]);
  if (devnull >= 0) {
    ::close(devnull);
  }
  ExecFailure failure;
  ssize_t n = 0;
  do {
    n = ::read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    switch (failure.step) {
      case 1:
        return fmt::format("cannot change to folder {}: {}", workdir, std::strerror(failure.error));
      case 2:
        return fmt::format("cannot run {}: {}", exe_text, std::strerror(failure.error));
      default:
        return fmt::format("cannot set up the standard streams: {}", std::strerror(failure.error));
    }
  }
  return pid;
}

}  // namespace honeycomb::node
