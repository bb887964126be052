#include "common/log.hpp"

#include "common/json_text.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <unistd.h>
#include <vector>

namespace honeycomb::log {
namespace {

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

// JSON-lines sink for honeycomb.debug.log. Records are buffered by stdio and
// flushed by flush(): after every ordinary log record (they are rare) and by
// the alert pipeline when its queue runs empty, so a burst of alerts costs
// one write per buffer, not one per alert.
class JsonLinesSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonLinesSink(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    file_ = std::fopen(path.c_str(), "ae");
    if (file_ != nullptr) {
      std::setvbuf(file_, nullptr, _IOFBF, 1 << 16);
    }
  }
  ~JsonLinesSink() override {
    if (file_ != nullptr) {
      std::fclose(file_);
    }
  }
  JsonLinesSink(const JsonLinesSink&) = delete;
  JsonLinesSink& operator=(const JsonLinesSink&) = delete;

  void write_record(spdlog::level::level_enum level, std::string_view name, std::string_view message,
                    std::string_view extra, std::chrono::system_clock::time_point when) {
    std::string line;
    line.reserve(128 + message.size() + extra.size());
    line += R"({"levelname":")";
    line += python_level_name(level);
    line += R"(","asctime":")";
    line += asctime(when);
    line += R"(","name":)";
    json_text::append_string(line, name);
    line += R"(,"process":)";
    line += std::to_string(::getpid());
    line += R"(,"message":)";
    json_text::append_string(line, message);
    if (!extra.empty()) {
      line.push_back(',');
      line += extra;
    }
    line += "}\n";
    std::lock_guard lock(mutex_);
    if (file_ != nullptr) {
      std::fwrite(line.data(), 1, line.size(), file_);
    }
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // base_sink holds mutex_ here; format outside our own locking helper.
    std::string line;
    line += R"({"levelname":")";
    line += python_level_name(msg.level);
    line += R"(","asctime":")";
    line += asctime(msg.time);
    line += R"(","name":)";
    json_text::append_string(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += R"(,"process":)";
    line += std::to_string(::getpid());
    line += R"(,"message":)";
    json_text::append_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    if (file_ != nullptr) {
      std::fwrite(line.data(), 1, line.size(), file_);
      std::fflush(file_);
    }
  }
  void flush_() override {
    if (file_ != nullptr) {
      std::fflush(file_);
    }
  }

 private:
  std::FILE* file_ = nullptr;
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
  auto root = std::make_shared<spdlog::logger>("honeycomb", s.sinks.begin(), s.sinks.end());
  root->set_level(s.level);
  spdlog::set_default_logger(root);
  spdlog::drop_all();
  spdlog::register_logger(root);
}

std::shared_ptr<spdlog::logger> get(std::string_view name) {
  std::string full = name.find('.') == std::string_view::npos ? "honeycomb." + std::string(name) : std::string(name);
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
