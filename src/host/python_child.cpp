#include "host/python_child.hpp"

#include "common/log.hpp"
#include "host/home.hpp"
#include "host/process.hpp"

#include <boost/json/serialize.hpp>

#include <boost/json/parser.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace honeycomb::host {
namespace {

using Clock = PythonChild::Clock;

std::int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Milliseconds from now until `t` for poll(), at least 0, at most 1 h.
int ms_until(Clock::time_point t) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  if (left <= 0) {
    return 0;
  }
  return static_cast<int>(std::min<std::int64_t>(left + 1, 3'600'000));
}

}  // namespace

Value value_from_json(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return nullptr;
    case boost::json::kind::bool_: return v.get_bool();
    case boost::json::kind::int64: return v.get_int64();
    case boost::json::kind::uint64: {
      const std::uint64_t u = v.get_uint64();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(u);
      }
      return static_cast<double>(u);
    }
    case boost::json::kind::double_: return v.get_double();
    case boost::json::kind::string: return std::string(v.get_string());
    case boost::json::kind::array:
    case boost::json::kind::object: return boost::json::serialize(v);
  }
  return nullptr;
}

std::string_view string_member(const boost::json::object& message, std::string_view key, std::string_view fallback) {
  const auto* v = message.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return fallback;
  }
  return v->get_string();
}

std::shared_ptr<spdlog::logger> ChildLogRouter::logger_for(std::string_view name) {
  // Not cached: log::init() (which runs after a daemon forks) replaces every
  // logger, and log::get() is cheap next to a log record.
  std::lock_guard lock(mutex_);
  if (name.empty() || name.size() > 200) {
    return nullptr;
  }
  if (name != fallback_ && names_.find(std::string(name)) == names_.end()) {
    if (names_.size() >= max_loggers) {
      return nullptr;
    }
    names_.emplace(name);
  }
  return log::get(name);
}

void ChildLogRouter::log(const boost::json::object& message) {
  std::int64_t level = 20;
  if (const auto* l = message.if_contains("level"); l != nullptr && l->is_int64()) {
    level = l->get_int64();
  }
  spdlog::level::level_enum spd = spdlog::level::critical;
  if (level < 20) {
    spd = spdlog::level::debug;
  } else if (level < 30) {
    spd = spdlog::level::info;
  } else if (level < 40) {
    spd = spdlog::level::warn;
  } else if (level < 50) {
    spd = spdlog::level::err;
  }
  const std::string_view name = string_member(message, "name", fallback_);
  const std::string_view text = string_member(message, "msg");
  if (auto logger = logger_for(name)) {
    logger->log(spd, "{}", text);
  } else if (auto fallback = logger_for(fallback_)) {
    fallback->log(spd, "[{}] {}", name, text);
  }
}

std::string python_interpreter() {
  if (const char* p = std::getenv("HONEYCOMB_PYTHON"); p != nullptr && *p != '\0') {
    return p;
  }
  return "python3";
}

std::string resolve_program(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0 ? program : std::string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) {
      dir = ".";
    }
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

PythonChild::~PythonChild() {
  if (pid_ > 0 && owned_here() && !reaped_) {
    kill_group();
    reap();
  }
  close_fds();
}

bool PythonChild::owned_here() const { return owner_ == ::getpid(); }

void PythonChild::close_fds() {
  for (int* fd : {&from_child_, &to_child_, &wake_}) {
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  }
}

void PythonChild::abandon() {
  close_fds();
  pid_ = -1;
  reaped_ = true;
}

bool PythonChild::start(const PythonChildOptions& options, std::string& error) {
  const std::string interpreter = python_interpreter();
  const std::string python = resolve_program(interpreter);
  if (python.empty()) {
    error = "Python interpreter `" + interpreter +
            "` not found; install python3 or name one with HONEYCOMB_PYTHON=/path/to/python (or --python)";
    return false;
  }
  const auto script = default_python_dir() / "honeycomb_child.py";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(script, ec)) {
    error = "the Python plugin support files are missing (" + script.string() +
            " does not exist; set HONEYCOMB_PYTHON_DIR to the folder holding honeycomb_child.py)";
    return false;
  }
  // A write to a child that died must be an error (EPIPE), not our death.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }

  // Everything the forked child needs is built before fork(): between fork
  // and exec only async-signal-safe calls are allowed (we have threads).
  std::vector<std::string> argv_text = {python,   "-u",           "-B",       script.string(), "--mode",
                                        options.mode, "--name", options.name, "--folder",      options.folder.string()};
  std::vector<char*> argv = exec_argv(argv_text);

  int to_host[2] = {-1, -1};
  int to_child[2] = {-1, -1};
  if (::pipe2(to_host, O_CLOEXEC) != 0) {
    error = std::string("cannot create a pipe: ") + std::strerror(errno);
    return false;
  }
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    error = std::string("cannot create a pipe: ") + std::strerror(errno);
    ::close(to_host[0]);
    ::close(to_host[1]);
    return false;
  }
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child. Dies with the thread that started it, even if that is killed -9.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::setpgid(0, 0);
    // The host blocks its stop signals and ignores SIGPIPE; exec keeps both.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) {
      ::sigaction(sig, &dfl, nullptr);
    }
    // Move our pipe ends out of the way, then onto 3 and 4 (dup2 clears
    // FD_CLOEXEC on the copies; everything else is closed).
    const int w = ::fcntl(to_host[1], F_DUPFD_CLOEXEC, 10);
    const int r = ::fcntl(to_child[0], F_DUPFD_CLOEXEC, 10);
    if (w < 0 || r < 0 || ::dup2(w, 3) < 0 || ::dup2(r, 4) < 0) {
      ::_exit(127);
    }
    if (dev_null >= 0) {
      ::dup2(dev_null, 0);
    }
    if (::syscall(SYS_close_range, 5U, ~0U, 0U) != 0) {
      for (int fd = 5; fd < 4096; ++fd) {
        ::close(fd);
      }
    }
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  const int fork_errno = errno;
  if (dev_null >= 0) {
    ::close(dev_null);
  }
  ::close(to_host[1]);
  ::close(to_child[0]);
  from_child_ = to_host[0];
  to_child_ = to_child[1];
  if (pid < 0) {
    error = std::string("cannot start a process: ") + std::strerror(fork_errno);
    close_fds();
    return false;
  }
  ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before we signal it
  pid_ = pid;
  owner_ = parent;
  ::fcntl(to_child_, F_SETFL, ::fcntl(to_child_, F_GETFL) | O_NONBLOCK);
  if (!write_line(options.init_json, Clock::now() + std::chrono::seconds(10))) {
    // The child died at once (e.g. exec failed); run() reports how.
  }
  return true;
}

bool PythonChild::write_line(std::string_view line, Clock::time_point deadline) {
  std::lock_guard lock(write_mutex_);
  if (to_child_ < 0) {
    return false;
  }
  std::string data;
  data.reserve(line.size() + 1);
  data.append(line);
  data.push_back('\n');
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(to_child_, data.data() + off, data.size() - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{to_child_, POLLOUT, 0};
      const int timeout = ms_until(deadline);
      if (timeout == 0 || ::poll(&p, 1, timeout) <= 0 || (p.revents & (POLLERR | POLLHUP)) != 0) {
        if (Clock::now() >= deadline || (p.revents & (POLLERR | POLLHUP)) != 0) {
          return false;
        }
      }
      continue;
    }
    return false;  // EPIPE: the child is gone
  }
  return true;
}

void PythonChild::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) {
    return;
  }
  std::int64_t expected = 0;
  if (!kill_at_.compare_exchange_strong(expected, to_ns(Clock::now() + grace))) {
    return;  // already stopping
  }
  (void)write_line(R"({"t":"shutdown"})", Clock::now() + std::chrono::milliseconds(200));
  if (wake_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
}

void PythonChild::kill_group() {
  if (pid_ > 0 && owned_here()) {
    // The child leads its group; while it is unreaped the group id cannot be
    // reused, so this never hits a stranger.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
}

void PythonChild::reap() {
  if (pid_ <= 0 || reaped_ || !owned_here()) {
    return;
  }
  // Wait for the child to exit without reaping it (WNOWAIT), kill what is
  // left of its process group, then reap.
  const auto give_up = Clock::now() + std::chrono::seconds(2);
  for (;;) {
    siginfo_t info{};
    const int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && info.si_pid == pid_) {
      break;
    }
    if (rc < 0 && errno != EINTR) {
      break;
    }
    if (Clock::now() >= give_up) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = -1;
    exit_signal_ = WTERMSIG(status);
  }
  reaped_ = true;
  exited_ = true;
}

std::string PythonChild::exit_description() const {
  if (exit_signal_ != 0) {
    return "was killed by signal " + std::to_string(exit_signal_) + " (" + ::strsignal(exit_signal_) + ")";
  }
  return "exited with code " + std::to_string(exit_code_);
}

void PythonChild::dispatch(std::string_view line, const Handler& handler, boost::json::parser& parser) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.empty()) {
    return;
  }
  boost::system::error_code ec;
  parser.reset();
  parser.write(line.data(), line.size(), ec);
  if (ec) {
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const boost::json::value value = parser.release();
  const auto* object = value.if_object();
  const auto* type = object != nullptr ? object->if_contains("t") : nullptr;
  if (type == nullptr || !type->is_string()) {
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters_.messages.fetch_add(1, std::memory_order_relaxed);
  try {
    handler(*object);
  } catch (const std::exception&) {
    // A message of the right shape with values of the wrong types.
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
  }
}

void PythonChild::run(const Handler& handler, std::optional<Clock::time_point> deadline) {
  if (pid_ <= 0 || !owned_here()) {
    return;
  }
  std::vector<char> chunk(64 * 1024);
  boost::json::parser parser;  // reused: its buffers survive reset()
  std::string pending;
  bool discarding = false;  // inside a line longer than max_line
  bool killed = false;
  std::optional<Clock::time_point> eof_deadline;
  while (from_child_ >= 0) {
    const std::int64_t kill_at = kill_at_.load();
    std::optional<Clock::time_point> wake_at = deadline;
    if (kill_at != 0 && !killed) {
      const Clock::time_point k{std::chrono::nanoseconds(kill_at)};
      wake_at = wake_at ? std::min(*wake_at, k) : k;
    }
    if (eof_deadline) {
      wake_at = wake_at ? std::min(*wake_at, *eof_deadline) : *eof_deadline;
    }
    pollfd fds[2] = {{from_child_, POLLIN, 0}, {wake_, POLLIN, 0}};
    const int timeout = wake_at ? ms_until(*wake_at) : -1;
    const int ready = ::poll(fds, wake_ >= 0 ? 2 : 1, timeout);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (wake_ >= 0 && (fds[1].revents & POLLIN) != 0) {
      std::uint64_t value = 0;
      (void)!::read(wake_, &value, sizeof value);
    }
    const auto now = Clock::now();
    if (!killed && ((kill_at != 0 && now >= Clock::time_point{std::chrono::nanoseconds(kill_at)}) ||
                    (deadline && now >= *deadline))) {
      killed = true;
      killed_after_grace_ = true;
      kill_group();
      // A descendant that left the group could hold fd 3 open: give EOF a
      // moment, then stop reading regardless.
      eof_deadline = now + std::chrono::seconds(1);
    }
    if (eof_deadline && now >= *eof_deadline) {
      break;
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    const ssize_t n = ::read(from_child_, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      break;
    }
    if (n == 0) {
      break;  // EOF: the child exited (or closed fd 3)
    }
    std::string_view data(chunk.data(), static_cast<std::size_t>(n));
    while (!data.empty()) {
      const auto nl = data.find('\n');
      const std::string_view piece = data.substr(0, nl);
      if (discarding) {
        if (nl != std::string_view::npos) {
          discarding = false;
        }
      } else if (pending.size() + piece.size() > max_line) {
        counters_.oversized.fetch_add(1, std::memory_order_relaxed);
        pending.clear();
        pending.shrink_to_fit();
        discarding = nl == std::string_view::npos;
      } else if (nl == std::string_view::npos) {
        pending.append(piece);
      } else if (pending.empty()) {
        dispatch(piece, handler, parser);  // the common case: no copy
      } else {
        pending.append(piece);
        dispatch(pending, handler, parser);
        pending.clear();
      }
      if (nl == std::string_view::npos) {
        break;
      }
      data.remove_prefix(nl + 1);
    }
  }
  if (!pending.empty() && !discarding) {
    dispatch(pending, handler, parser);  // a last line without a newline
  }
  reap();
}

}  // namespace honeycomb::host
