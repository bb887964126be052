// Logging: spdlog loggers writing to the console and to `honeycomb.debug.log`,
// one JSON object per line with the reference's keys (`levelname`, `asctime`,
// `name`, `message`). Alerts are written to the same file with their fields
// as top-level keys, so `event_type` is a key of their records.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace honeycomb::log {

struct Options {
  std::filesystem::path debug_log;  ///< empty: no JSON log file
  bool verbose = false;             ///< debug records on the console too
  bool console = true;              ///< human-readable records on the console
  bool console_stdout = false;      ///< console records to stdout (daemons: stdout.log)
};

/// Sets up the sinks shared by every logger. Call once, early in main().
void init(const Options& options);
/// A logger named `honeycomb.<name>` (or `name` if it starts with `honeycomb`)
/// sharing the sinks set up by init().
std::shared_ptr<spdlog::logger> get(std::string_view name);
/// Writes a prebuilt JSON object body (`"k":v,...` without braces) as one
/// debug-log record with the standard keys in front. Used for alerts, whose
/// fields become keys of the record. No flush: see flush().
void write_record(spdlog::level::level_enum level, std::string_view logger_name, std::string_view message,
                  std::string_view extra_members);
/// Flushes the debug log file and console.
void flush();
/// Formats a time as the Python logging `asctime` ("2026-11-23 17:41:59,123").
std::string asctime(std::chrono::system_clock::time_point tp);

/// Lets through at most `per_second` records a second and counts the rest,
/// so hostile input cannot flood the log. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(std::uint32_t per_second) : per_second_(per_second) {}
  /// True when a record may be written now; `suppressed` receives how many
  /// were held back since the last allowed one.
  bool allow(std::uint64_t& suppressed);

 private:
  std::uint32_t per_second_;
  std::mutex mutex_;
  std::int64_t window_start_ = 0;
  std::uint32_t in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace honeycomb::log
