#include "common/log.hpp"

#include "common/json_text.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <vector>

namespace honeycomb::log {
namespace {

// Our pid, kept current across fork() by an atfork handler: getpid() is a
// system call, too dear for one per debug-log record.
std::atomic<pid_t> current_pid{0};

pid_t cached_pid() {
  static const bool registered = [] {
    current_pid = ::getpid();
    ::pthread_atfork(nullptr, nullptr, [] { current_pid = ::getpid(); });
    return true;
  }();
  (void)registered;
  return current_pid.load(std::memory_order_relaxed);
}

const char* python_level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO";
    case spdlog::level::warn: return "WARNING";
    case spdlog::level::err: return "ERROR";
    case spdlog::level::critical: return "CRITICAL";
    default: return "NOTSET";
  }
}

// JSON-lines sink for honeycomb.debug.log. Records are rendered straight
// into a buffer of our own and written with write(2) when it holds 64 KiB,
// and by flush(): after every ordinary log record (they are rare) and by the
// alert pipeline when its queue runs empty, so a burst of alerts costs one
// write per 64 KiB, not one per alert. (stdio was used before, but setvbuf()
// with a null buffer ignores the size and kept glibc's 4 KiB: a write every
// dozen alerts.) The buffer grows only when records come, so an idle
// honeypot holds none of it.
class JsonLinesSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonLinesSink(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);  // as fopen("a")
  }
  ~JsonLinesSink() override {
    std::lock_guard lock(mutex_);
    write_out();
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  JsonLinesSink(const JsonLinesSink&) = delete;
  JsonLinesSink& operator=(const JsonLinesSink&) = delete;

  void write_record(spdlog::level::level_enum level, std::string_view name, std::string_view message,
                    std::string_view extra, std::chrono::system_clock::time_point when) {
    // Alerts come through here, one per request: no allocation, the pid and
    // the date cached, under the sink's lock (one writer in practice, the
    // debug-log output thread).
    std::lock_guard lock(mutex_);
    std::string& line = pending_;
    line += R"({"levelname":")";
    line += python_level_name(level);
    line += R"(","asctime":")";
    append_asctime(line, when);
    line += R"(","name":)";
    json_text::append_string(line, name);
    line += R"(,"process":)";
    append_pid(line);
    line += R"(,"message":)";
    json_text::append_string(line, message);
    if (!extra.empty()) {
      line.push_back(',');
      line += extra;
    }
    line += "}\n";
    if (pending_.size() >= buffer_size) {
      write_out();
    }
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // base_sink holds mutex_ here.
    std::string& line = pending_;
    line += R"({"levelname":")";
    line += python_level_name(msg.level);
    line += R"(","asctime":")";
    line += asctime(msg.time);
    line += R"(","name":)";
    json_text::append_string(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += R"(,"process":)";
    append_pid(line);
    line += R"(,"message":)";
    json_text::append_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    write_out();
  }
  void flush_() override { write_out(); }

 private:
  static constexpr std::size_t buffer_size = 64 * 1024;

  // Writes what is pending; with mutex_ held. A failing disk loses the
  // records (as stdio did) rather than growing the buffer without bound.
  void write_out() {
    std::size_t off = 0;
    while (fd_ >= 0 && off < pending_.size()) {
      const ssize_t n = ::write(fd_, pending_.data() + off, pending_.size() - off);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    pending_.clear();
  }

  void append_pid(std::string& out) {
    const pid_t pid = cached_pid();
    if (pid != pid_) {
      pid_ = pid;
      pid_text_ = std::to_string(pid);
    }
    out += pid_text_;
  }

  // asctime(when), with the part before the milliseconds formatted once a
  // second (localtime_r and strftime per record were most of its cost).
  void append_asctime(std::string& out, std::chrono::system_clock::time_point when) {
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(when);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when - secs).count();
    if (secs != asctime_second_) {
      const std::string full = asctime(secs);
      asctime_prefix_ = full.substr(0, full.size() - 3);  // without "000"
      asctime_second_ = secs;
    }
    out += asctime_prefix_;
    const auto m = static_cast<int>(ms);
    out.push_back(static_cast<char>('0' + m / 100));
    out.push_back(static_cast<char>('0' + m / 10 % 10));
    out.push_back(static_cast<char>('0' + m % 10));
  }

  // All guarded by mutex_ (base_sink holds it in sink_it_ and flush_, we in
  // write_record).
  int fd_ = -1;
  std::string pending_;
  pid_t pid_ = 0;
  std::string pid_text_;
  std::chrono::sys_seconds asctime_second_{};
  std::string asctime_prefix_;
};

struct State {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks;
  std::shared_ptr<JsonLinesSink> json_sink;
  spdlog::level::level_enum level = spdlog::level::info;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

std::string asctime(std::chrono::system_clock::time_point tp) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(tp);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ",%03d", static_cast<int>(ms));
  return buf;
}

void init(const Options& options) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.sinks.clear();
  s.json_sink.reset();
  if (options.console) {
    spdlog::sink_ptr console;
    if (options.console_stdout) {
      console = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    } else {
      console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    }
    console->set_pattern("%Y-%m-%d %H:%M:%S [%^%l%$] %n: %v");
    console->set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);
    s.sinks.push_back(console);
  }
  if (!options.debug_log.empty()) {
    s.json_sink = std::make_shared<JsonLinesSink>(options.debug_log);
    s.json_sink->set_level(spdlog::level::debug);
    s.sinks.push_back(s.json_sink);
  }
  s.level = spdlog::level::debug;
  // Loggers handed out before this call (e.g. to integrations built before a
  // daemon forks and sets up its own sinks) must follow: re-point every
  // registered logger at the new sinks instead of dropping them.
  spdlog::apply_all([&s](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = s.sinks;
    logger->set_level(s.level);
  });
  auto root = spdlog::get("honeycomb");
  if (!root) {
    root = std::make_shared<spdlog::logger>("honeycomb", s.sinks.begin(), s.sinks.end());
    root->set_level(s.level);
  }
  spdlog::set_default_logger(root);
}

std::shared_ptr<spdlog::logger> get(std::string_view name) {
  std::string full = name.starts_with("honeycomb") ? std::string(name) : "honeycomb." + std::string(name);
  if (auto existing = spdlog::get(full)) {
    return existing;
  }
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(full)) {
    return existing;
  }
  auto logger = std::make_shared<spdlog::logger>(full, s.sinks.begin(), s.sinks.end());
  logger->set_level(s.level);
  spdlog::register_logger(logger);
  return logger;
}

void write_record(spdlog::level::level_enum level, std::string_view logger_name, std::string_view message,
                  std::string_view extra_members) {
  auto& s = state();
  if (s.json_sink) {
    s.json_sink->write_record(level, logger_name, message, extra_members, std::chrono::system_clock::now());
  }
}

void flush() {
  auto& s = state();
  if (s.json_sink) {
    s.json_sink->flush();
  }
}

bool RateLimiter::allow(std::uint64_t& suppressed) {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mutex_);
  if (now != window_start_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++suppressed_;
    return false;
  }
  ++in_window_;
  suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace honeycomb::log
