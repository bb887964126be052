// One Python plugin process (python/honeycomb_child.py) and the JSON-lines
// channel to it: fd 3 child -> host, fd 4 host -> child (see
// docs/PYTHON_PLUGINS.md for the messages). The plugin's stdout and stderr
// are ours (the console, or a daemon's stdout.log/stderr.log).
//
// The child runs in a process group of its own (so the terminal's Ctrl-C
// reaches the host only, which then asks the child to stop) and dies with
// the thread that started it (PR_SET_PDEATHSIG). On stop, and whenever it
// ends, the whole group is killed so that nothing the plugin started
// outlives it.
//
// Child output is untrusted: a line longer than `max_line` or one that is
// not a JSON object is dropped and counted; nothing the child writes can
// throw into the host or make it wait forever.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>
#include <honeycomb/alert.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unordered_set>

namespace honeycomb::host {

/// The interpreter to run plugins with: $HONEYCOMB_PYTHON, else `python3`.
std::string python_interpreter();
/// `program` as an absolute path (searched in $PATH when it has no `/`), or empty.
std::string resolve_program(const std::string& program);

/// A JSON value of a child message as an alert field value: strings,
/// numbers, booleans and null as themselves, arrays and objects as JSON text.
Value value_from_json(const boost::json::value& v);

/// Writes the child's log records ({"t":"log","level":N,"name":..,"msg":..})
/// under their Python logger name and level. Bounds the number of distinct
/// names (the child chooses them): beyond that, records go to `fallback`.
class ChildLogRouter {
 public:
  explicit ChildLogRouter(std::string fallback) : fallback_(std::move(fallback)) {}
  void log(const boost::json::object& message);

 private:
  static constexpr std::size_t max_loggers = 64;
  std::shared_ptr<spdlog::logger> logger_for(std::string_view name);
  std::string fallback_;
  std::mutex mutex_;
  std::unordered_set<std::string> names_;
};

/// The string member `key` of a child message, or `fallback`.
std::string_view string_member(const boost::json::object& message, std::string_view key,
                               std::string_view fallback = {});

struct PythonChildOptions {
  std::string mode;                ///< service | test | integration
  std::string name;                ///< the plugin's name
  std::filesystem::path folder;    ///< the plugin's folder
  std::string init_json;           ///< the first message ({"t":"init",...}), no newline
};

struct PythonChildCounters {
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> oversized{0};  ///< lines over max_line, dropped
  std::atomic<std::uint64_t> malformed{0};  ///< not a JSON object with a string "t", dropped
};

class PythonChild {
 public:
  static constexpr std::size_t max_line = 1024 * 1024;
  using Clock = std::chrono::steady_clock;
  using Handler = std::function<void(const boost::json::object&)>;

  PythonChild() = default;
  ~PythonChild();
  PythonChild(const PythonChild&) = delete;
  PythonChild& operator=(const PythonChild&) = delete;

  /// Starts the interpreter and sends the init message; false with `error`
  /// set when it cannot (no interpreter, no support files, no pipes).
  bool start(const PythonChildOptions& options, std::string& error);
  /// Reads and dispatches messages until the child exits (its end of fd 3
  /// closes), or until `deadline` (then the child is killed). Reaps the
  /// child and kills its process group before returning. Call from one
  /// thread at a time.
  void run(const Handler& handler, std::optional<Clock::time_point> deadline = std::nullopt);
  /// Writes one line (a newline is added). Thread-safe. False when the child
  /// is gone or did not read it before `deadline`.
  bool write_line(std::string_view line, Clock::time_point deadline);
  /// Asks the child to stop ({"t":"shutdown"}) and kills its process group
  /// if it has not exited `grace` later. Thread-safe; run() enforces it.
  void stop(std::chrono::milliseconds grace);
  /// After fork(): this process does not own the child; forget it without
  /// killing or waiting (its owner does that).
  void abandon();

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] bool running() const { return pid_ > 0 && !exited_.load(); }
  [[nodiscard]] bool owned_here() const;
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// "exited with code N" / "was killed by signal N"; valid after run().
  [[nodiscard]] std::string exit_description() const;
  [[nodiscard]] int exit_code() const { return exit_code_; }  ///< -1 when killed by a signal
  [[nodiscard]] bool killed_after_grace() const { return killed_after_grace_; }
  [[nodiscard]] const PythonChildCounters& counters() const { return counters_; }

 private:
  void dispatch(std::string_view line, const Handler& handler, boost::json::parser& parser);
  void kill_group();
  void reap();
  void close_fds();

  pid_t pid_ = -1;
  pid_t owner_ = 0;  ///< the process that started the child
  int from_child_ = -1;
  int to_child_ = -1;
  int wake_ = -1;  ///< eventfd: stop() wakes run()
  std::mutex write_mutex_;
  std::atomic<std::int64_t> kill_at_{0};  ///< steady-clock ns; 0: no stop requested
  std::atomic<bool> exited_{false};
  int exit_code_ = 0;
  int exit_signal_ = 0;
  bool killed_after_grace_ = false;
  bool reaped_ = false;
  PythonChildCounters counters_;
};

}  // namespace honeycomb::host
