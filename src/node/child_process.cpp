#include "node/child_process.hpp"

#include "host/process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <map>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace honeycomb::node {

namespace fs = std::filesystem;

std::optional<fs::path> find_executable(const std::string& name, std::optional<std::string_view> search_path) {
  if (name.empty()) {
    return std::nullopt;
  }
  if (name.find('/') != std::string::npos) {
    return fs::path(name);
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = search_path ? *search_path : path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
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

/// What failed in the child, written to the report pipe.
enum class Step : int {
  chdir = 1,
  exec,
  descriptors,
  mount_view,    ///< detail: which system call (MountCall)
  limit,         ///< detail: the RLIMIT_* resource
  identity,      ///< detail: 1 switching, 2 root could be regained
  capabilities,  ///< detail: 1 capset, 2 the ambient set
  no_new_privs,
  priority,  ///< nice(2)
};
enum MountCall : int { kUnshare = 1, kPrivate, kOpen, kTmpfs, kMkdir, kBind, kConceal };

/// Written by the child when a step fails: which step, errno, a detail.
struct ExecFailure {
  Step step{};
  int error = 0;
  int detail = 0;
};

[[noreturn]] void write_failure(int fd, Step step, int detail = 0) {
  const ExecFailure f{step, errno, detail};
  [[maybe_unused]] const auto n = ::write(fd, &f, sizeof f);
  ::_exit(127);
}

const char* limit_name(int resource) {
  switch (resource) {
    case RLIMIT_AS:
      return "RLIMIT_AS (memory)";
    case RLIMIT_CPU:
      return "RLIMIT_CPU (CPU time)";
    case RLIMIT_NOFILE:
      return "RLIMIT_NOFILE (open files)";
    case RLIMIT_NPROC:
      return "RLIMIT_NPROC (processes)";
    default:
      return "a resource limit";
  }
}

/// "/proc/self/fd/<fd>" into `out`, without allocating.
void fd_path(int fd, char (&out)[32]) {
  constexpr char prefix[] = "/proc/self/fd/";
  std::size_t n = 0;
  for (; prefix[n] != '\0'; ++n) {
    out[n] = prefix[n];
  }
  char digits[12];
  std::size_t count = 0;
  auto value = static_cast<unsigned>(fd);
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && count < sizeof digits);
  while (count > 0) {
    out[n++] = digits[--count];
  }
  out[n] = '\0';
}

/// The child's side of ChildSandbox: system calls only (no allocation, no
/// lock), each failure reported through `report` and the child ended.
void apply_sandbox(const ChildSandbox& s, int report) {
  if (!s.hide.empty()) {
    if (::unshare(CLONE_NEWNS) != 0) {
      write_failure(report, Step::mount_view, kUnshare);
    }
    // Nothing mounted here may reach the node's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      write_failure(report, Step::mount_view, kPrivate);
    }
    // The folder to show, held open before the tmpfs hides its path (and
    // opened here: a bind mount's source must be in this namespace).
    const int expose = ::open(s.expose.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (expose < 0) {
      write_failure(report, Step::mount_view, kOpen);
    }
    char expose_source[32];
    fd_path(expose, expose_source);
    if (::mount("tmpfs", s.hide.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=0711,size=64k,nr_inodes=1024") != 0) {
      write_failure(report, Step::mount_view, kTmpfs);
    }
    for (const auto& dir : s.make_dirs) {
      if (::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST) {
        write_failure(report, Step::mount_view, kMkdir);
      }
    }
    if (::mount(expose_source, s.expose.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      write_failure(report, Step::mount_view, kBind);
    }
    ::close(expose);
    for (const auto& file : s.conceal) {
      if (::mount("/dev/null", file.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        write_failure(report, Step::mount_view, kConceal);
      }
    }
  }
  for (const auto& l : s.limits) {
    const rlimit r{static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)};
    if (::setrlimit(l.resource, &r) != 0) {
      write_failure(report, Step::limit, l.resource);
    }
  }
  if (s.nice != 0) {
    errno = 0;
    if (::nice(s.nice) == -1 && errno != 0) {
      write_failure(report, Step::priority);
    }
  }
  if (s.switch_user) {
    // Raw system calls: glibc's set*id wrappers signal every thread of the
    // process, a machinery that is not async-signal-safe; the child has one
    // thread.
    if (s.bind_service && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
      write_failure(report, Step::capabilities, 1);
    }
    // The bounding set as well, so that nothing executed later can gain a
    // capability (no_new_privs already ensures it; this is the second
    // lock). Best effort: EINVAL for numbers this kernel does not know.
    for (int cap = 0; cap <= s.last_cap; ++cap) {
      if (!(s.bind_service && cap == CAP_NET_BIND_SERVICE)) {
        ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
      }
    }
    if (::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setresgid, s.gid, s.gid, s.gid) != 0 ||
        ::syscall(SYS_setresuid, s.uid, s.uid, s.uid) != 0) {
      write_failure(report, Step::identity, 1);
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (s.bind_service) {
      const auto bit = std::uint32_t{1} << CAP_NET_BIND_SERVICE;
      data[0].effective = bit;
      data[0].permitted = bit;
      data[0].inheritable = bit;  // an ambient capability must be permitted and inheritable
    }
    if (::syscall(SYS_capset, &header, data) != 0) {
      write_failure(report, Step::capabilities, 1);
    }
    if (::syscall(SYS_setresuid, 0, 0, 0) == 0) {
      errno = EPERM;
      write_failure(report, Step::identity, 2);
    }
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (s.bind_service && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) != 0) {
      write_failure(report, Step::capabilities, 2);
    }
  } else {
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);  // none of the node's
  }
  // No exec of a set-user-ID program or one with file capabilities gains
  // anything from here on.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    write_failure(report, Step::no_new_privs);
  }
}

std::string describe_failure(const ExecFailure& failure, const ChildCommand& command, const std::string& exe,
                             const std::string& workdir) {
  const char* why = std::strerror(failure.error);
  switch (failure.step) {
    case Step::chdir:
      return fmt::format("cannot change to folder {}: {}", workdir, why);
    case Step::exec:
      return fmt::format("cannot run {}: {}", exe, why);
    case Step::descriptors:
      return fmt::format("cannot set up the standard streams: {}", why);
    case Step::mount_view: {
      const auto& s = *command.sandbox;
      const char* call = failure.detail == kUnshare   ? "a new mount namespace"
                         : failure.detail == kPrivate ? "private mounts"
                         : failure.detail == kOpen    ? "opening the pot's folder"
                         : failure.detail == kTmpfs   ? "a tmpfs on the hidden folder"
                         : failure.detail == kMkdir   ? "the folders in it"
                         : failure.detail == kConceal ? "covering the node's config file"
                                                      : "the bind mount of the pot's folder";
      return fmt::format("cannot make the pot's private view of the files ({}; hiding {}, showing {}): {}", call,
                         s.hide, s.expose, why);
    }
    case Step::limit:
      return fmt::format("cannot set {}: {}", limit_name(failure.detail), why);
    case Step::identity:
      return failure.detail == 2
                 ? std::string("switched user, yet root could be regained")
                 : fmt::format("cannot switch to uid {} gid {}: {}", command.sandbox->uid, command.sandbox->gid, why);
    case Step::capabilities:
      return fmt::format("cannot set the capabilities{}: {}",
                         command.sandbox->bind_service ? " (CAP_NET_BIND_SERVICE only)" : " (none)", why);
    case Step::no_new_privs:
      return fmt::format("cannot set no_new_privs: {}", why);
    case Step::priority:
      return fmt::format("cannot lower its priority by {} (pot_nice): {}", command.sandbox->nice, why);
  }
  return fmt::format("cannot start: {}", why);
}

}  // namespace

std::variant<pid_t, std::string> spawn_child(const ChildCommand& command) {
  if (command.argv.empty()) {
    return std::string("empty command");
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
  for (const auto& name : command.unset_env) {
    env.erase(name);
  }
  // The command is looked up where the child will look: its own PATH.
  const auto path = env.find("PATH");
  const auto exe = find_executable(
      command.argv.front(), path == env.end() ? std::optional<std::string_view>() : std::string_view(path->second));
  if (!exe) {
    return fmt::format("command not found: {}", command.argv.front());
  }
  std::vector<std::string> env_text;
  env_text.reserve(env.size());
  for (const auto& [name, value] : env) {
    std::string entry = name;
    entry += '=';
    entry += value;
    env_text.push_back(std::move(entry));
  }
  std::vector<char*> envp = host::exec_argv(env_text);
  std::vector<char*> argv = host::exec_argv(command.argv);
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
      write_failure(report[1], Step::descriptors);
    }
    if (command.sandbox) {
      apply_sandbox(*command.sandbox, report[1]);
      // Changing credentials cleared the parent-death signal.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) {
        ::_exit(127);
      }
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
      write_failure(report[1], Step::chdir);
    }
    ::execve(exe_text.c_str(), argv.data(), envp.data());
    write_failure(report[1], Step::exec);
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
    return describe_failure(failure, command, exe_text, workdir);
  }
  return pid;
}

}  // namespace honeycomb::node
