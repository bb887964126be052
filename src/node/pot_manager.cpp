#include "node/pot_manager.hpp"

#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "events/normalize.hpp"
#include "host/home.hpp"
#include "node/child_process.hpp"
#include "node/peer_process.hpp"
#include "node/pot_sandbox.hpp"
#include "node/pot_spec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unordered_map>

namespace honeycomb::node {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using protocol::Command;
using protocol::PotStatus;
using Clock = std::chrono::steady_clock;

namespace {

/// host::write_text_file (atomic: temporary file + rename) where the
/// caller only needs to know whether it worked.
bool write_file(const std::filesystem::path& path, std::string_view text) {
  std::string error;
  return host::write_text_file(path, text, error);
}

/// One output stream of a pot, appended to a file that is rotated (to
/// `<name>.1`, replacing it) when it would grow past the cap.
class CappedLog {
 public:
  void open(fs::path path, std::uint64_t max_bytes) {
    path_ = std::move(path);
    max_bytes_ = max_bytes;
    reopen();
  }
  ~CappedLog() { close(); }
  void write(std::string_view text) {
    if (fd_ < 0) {
      return;
    }
    if (size_ + text.size() > max_bytes_) {
      std::error_code ec;
      fs::rename(path_, path_.string() + ".1", ec);
      reopen();
      if (text.size() > max_bytes_) {
        text = text.substr(text.size() - max_bytes_);
      }
    }
    while (!text.empty()) {
      const auto n = ::write(fd_, text.data(), text.size());
      if (n <= 0) {
        return;  // disk full or the like: the pot keeps running, its output is lost
      }
      size_ += static_cast<std::uint64_t>(n);
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  /// The last `n` bytes written (from the rotated file too when needed).
  std::string tail(std::size_t n) const {
    std::string current = read_tail(path_, n);
    if (current.size() < n) {
      current = read_tail(path_.string() + ".1", n - current.size()) + current;
    }
    return current;
  }
  std::uint64_t size() const { return size_; }

 private:
  static std::string read_tail(const fs::path& path, std::size_t n) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return {};
    }
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
    const auto take = std::min(size, n);
    in.seekg(static_cast<std::streamoff>(size - take));
    std::string out(take, '\0');
    in.read(out.data(), static_cast<std::streamsize>(take));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
  }
  void reopen() {
    close();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st {};
    size_ = (fd_ >= 0 && ::fstat(fd_, &st) == 0) ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  fs::path path_;
  std::uint64_t max_bytes_ = 0;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

/// What should become of a pot across node restarts (<pot>/state).
enum class Wanted { running, stopped, installing, install_failed };

const char* to_string(Wanted w) {
  switch (w) {
    case Wanted::running:
      return "running";
    case Wanted::stopped:
      return "stopped";
    case Wanted::installing:
      return "installing";
    case Wanted::install_failed:
      return "install_failed";
  }
  return "stopped";
}

std::optional<Wanted> wanted_from(std::string_view t) {
  for (auto w : {Wanted::running, Wanted::stopped, Wanted::installing, Wanted::install_failed}) {
    if (t == to_string(w)) {
      return w;
    }
  }
  return std::nullopt;
}

/// Resident bytes of every process in process group `pgid` (a pot and what
/// it started), from /proc.
std::uint64_t group_resident_bytes(pid_t pgid) {
  std::uint64_t total = 0;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    auto stat = host::read_text_file(entry.path() / "stat");
    if (!stat) {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    const auto close = stat->rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream fields(stat->substr(close + 1));
    std::string state;
    long ppid = 0;
    long pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp != pgid) {
      continue;
    }
    auto statm = host::read_text_file(entry.path() / "statm");
    if (!statm) {
      continue;
    }
    std::istringstream pages(*statm);
    std::uint64_t size = 0;
    std::uint64_t resident = 0;
    pages >> size >> resident;
    total += resident * page;
  }
  return total;
}

}  // namespace

struct Pot {
  explicit Pot(asio::io_context& io) : restart_timer(io), kill_timer(io) {}
  PotSpec spec;
  PotStatus status = PotStatus::stopped;
  std::string message;
  Wanted wanted = Wanted::stopped;
  pid_t pid = -1;  ///< the pot's process (and process group), -1 when none
  bool stopping = false;
  Clock::time_point started{};
  std::uint64_t restarts = 0;
  std::chrono::milliseconds backoff{0};
  asio::steady_timer restart_timer;
  asio::steady_timer kill_timer;
  CappedLog out;
  CappedLog err;
  std::vector<std::function<void()>> on_exit;  ///< run once the process is gone
  std::string sandbox_json;                    ///< what its last start ran with (GetPotInfo)
  /// The node wrote into its home or app (copy, clone, plugin install):
  /// they become the pot's before it runs anything.
  bool needs_hand_over = false;
};
using PotPtr = std::shared_ptr<Pot>;

struct PotManager::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_context, PotManagerOptions o, Notify n)
      : io(io_context),
        options(std::move(o)),
        notify(std::move(n)),
        sigchld(io_context, SIGCHLD),
        sandbox(options.sandbox, options.pots_dir) {}

  asio::io_context& io;
  PotManagerOptions options;
  Notify notify;
  asio::signal_set sigchld;
  PotSandbox sandbox;
  std::shared_ptr<spdlog::logger> log = log::get("pots");
  std::optional<Potstore> potstore;
  std::string potstore_error;
  std::map<std::string, PotPtr> pots;
  /// Every child we wait for (pots and install steps) -> what to do when it exits.
  std::map<pid_t, std::function<void(int)>> children;
  bool shutting_down = false;

  mutable std::mutex counts_mutex;
  std::unordered_map<std::string, std::uint64_t> event_counts;
  std::vector<std::pair<pid_t, std::string>> running_pots;  ///< main process -> pot id, for the event port
  std::atomic<std::uint64_t> installed_count{0};
  std::atomic<std::uint64_t> running_count{0};
  std::atomic<std::uint64_t> restart_count{0};

  // ---- files ----
  fs::path pot_dir(const std::string& id) const { return options.pots_dir / id; }
  void save_wanted(const Pot& pot) {
    write_file(pot_dir(pot.spec.pot_id) / "state",
               fmt::format("{}\n{}\n", to_string(pot.wanted),
                           pot.wanted == Wanted::install_failed ? pot.message : std::string()));
  }
  void open_logs(Pot& pot) {
    const auto logs = pot_dir(pot.spec.pot_id) / "logs";
    std::error_code ec;
    fs::create_directories(logs, ec);
    pot.out.open(logs / "stdout.log", options.log_max_bytes);
    pot.err.open(logs / "stderr.log", options.log_max_bytes);
  }
  /// A line from the node itself in the pot's stderr log (starts, exits).
  void note(Pot& pot, std::string_view text) {
    pot.err.write(fmt::format("[honeycomb node {}] {}\n", events_time_now(), text));
  }
  static std::string events_time_now() { return events::format_time_us(unix_now_us()); }

  // ---- messages ----
  protocol::PotStatusUpdate status_of(const Pot& pot, std::optional<std::string> message = std::nullopt) const {
    protocol::PotStatusUpdate u;
    u.node_id = options.node_id;
    u.pot_id = pot.spec.pot_id;
    u.pot_type = pot.spec.honeypot_type;
    u.status = pot.status;
    u.status_text = protocol::to_string(pot.status);
    if (message) {
      u.message = std::move(message);
    } else if (!pot.message.empty()) {
      u.message = pot.message;
    }
    return u;
  }
  protocol::PotStatusUpdate failure(const std::string& pot_id, const std::string& type, std::string why) const {
    protocol::PotStatusUpdate u;
    u.node_id = options.node_id;
    u.pot_id = pot_id;
    u.pot_type = type;
    u.status = PotStatus::failed;
    u.status_text = protocol::to_string(PotStatus::failed);
    u.message = std::move(why);
    return u;
  }
  void set_status(Pot& pot, PotStatus status, std::string message) {
    pot.status = status;
    pot.message = std::move(message);
    refresh_counts();
  }
  void refresh_counts() {
    std::vector<std::pair<pid_t, std::string>> running;
    for (const auto& [id, pot] : pots) {
      if (pot->pid > 0) {
        running.emplace_back(pot->pid, id);
      }
    }
    running_count = running.size();
    installed_count = pots.size();
    std::lock_guard lock(counts_mutex);
    running_pots = std::move(running);
  }

  // ---- processes ----
  void watch_children() {
    sigchld.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int) {
      if (ec) {
        return;
      }
      self->reap();
      self->watch_children();
    });
  }
  void reap() {
    for (auto it = children.begin(); it != children.end();) {
      int status = 0;
      const pid_t r = ::waitpid(it->first, &status, WNOHANG);
      if (r == it->first) {
        auto done = std::move(it->second);
        it = children.erase(it);
        done(status);
      } else {
        ++it;
      }
    }
  }
  asio::awaitable<void> pump(int fd, PotPtr pot, bool is_stderr) {
    asio::posix::stream_descriptor pipe(io, fd);
    std::array<char, std::size_t{16} * 1024> buffer{};
    for (;;) {
      auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (n > 0) {
        (is_stderr ? pot->err : pot->out).write({buffer.data(), n});
      }
      if (ec) {
        co_return;
      }
    }
  }
  /// Starts `command` with its output into `pot`'s logs; `on_exit` gets
  /// the wait status.
  std::variant<pid_t, std::string> launch(const PotPtr& pot, ChildCommand command, std::function<void(int)> on_exit) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      return std::string("cannot create a pipe");
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return std::string("cannot create a pipe");
    }
    command.stdout_fd = out[1];
    command.stderr_fd = err[1];
    auto spawned = spawn_child(command);
    ::close(out[1]);
    ::close(err[1]);
    if (auto* error = std::get_if<std::string>(&spawned)) {
      ::close(out[0]);
      ::close(err[0]);
      return *error;
    }
    asio::co_spawn(io, pump(out[0], pot, false), asio::detached);
    asio::co_spawn(io, pump(err[0], pot, true), asio::detached);
    const pid_t pid = std::get<pid_t>(spawned);
    children.emplace(pid, std::move(on_exit));
    return pid;
  }
  std::vector<std::pair<std::string, std::string>> pot_environment(const PotSpec& spec) const {
    auto env = spec.env;
    env.emplace_back("HONEYBEE_EVENT_PORT", std::to_string(options.event_port));
    env.emplace_back("HONEYBEE_POT_ID", spec.pot_id);
    env.emplace_back("HONEYBEE_HONEYPOT_TYPE", spec.honeypot_type);
    env.emplace_back("PYTHONUNBUFFERED", "1");  // Python pots' output reaches the logs as it is written
    return env;
  }
  /// How the pot's own command (`as_pot`) or one of its install steps runs:
  /// its environment on top of the sandbox's, in the sandbox.
  std::variant<ChildCommand, std::string> sandboxed(const PotSpec& spec, std::vector<std::string> argv,
                                                    std::vector<std::pair<std::string, std::string>> env,
                                                    const fs::path& workdir, bool as_pot, std::string* summary,
                                                    std::string* json) {
    auto planned = sandbox.plan(spec, argv, workdir, as_pot);
    if (auto* error = std::get_if<std::string>(&planned)) {
      return *error;
    }
    auto& plan = std::get<PotSandbox::Plan>(planned);
    env.insert(env.end(), plan.env.begin(), plan.env.end());
    ChildCommand command{std::move(argv), std::move(env), plan.workdir, -1, -1};
    command.unset_env = std::move(plan.unset_env);
    command.sandbox = std::move(plan.child);
    if (summary != nullptr) {
      *summary = std::move(plan.summary);
    }
    if (json != nullptr) {
      *json = std::move(plan.json);
    }
    return command;
  }
  /// Starts the pot's process; false (status Failed, reason in message) when it cannot.
  bool start_process(const PotPtr& pot) {
    auto fail = [this, &pot](const std::string& error) {
      note(*pot, "cannot start: " + error);
      set_status(*pot, PotStatus::failed, "cannot start: " + error);
      log->warn("pot {}: cannot start: {}", pot->spec.pot_id, error);
      return false;
    };
    if (auto error = sandbox.prepare_files(pot->spec); !error.empty()) {
      return fail(error);
    }
    std::string summary;
    std::string json;
    auto command = sandboxed(pot->spec, pot->spec.argv, pot_environment(pot->spec), sandbox.workdir_of(pot->spec), true,
                             &summary, &json);
    if (auto* error = std::get_if<std::string>(&command)) {
      return fail(*error);
    }
    std::weak_ptr<Pot> weak = pot;
    auto spawned = launch(pot, std::get<ChildCommand>(command), [self = shared_from_this(), weak](int status) {
      if (auto p = weak.lock()) {
        self->on_pot_exit(p, status);
      }
    });
    if (auto* error = std::get_if<std::string>(&spawned)) {
      return fail(*error);
    }
    pot->pid = std::get<pid_t>(spawned);
    pot->started = Clock::now();
    pot->sandbox_json = std::move(json);
    note(*pot, fmt::format("started, pid {}: {}", pot->pid, summary));
    set_status(*pot, PotStatus::running, {});
    log->info("pot {} ({}) started, pid {}: {}", pot->spec.pot_id, pot->spec.honeypot_type, pot->pid, summary);
    return true;
  }
  void on_pot_exit(const PotPtr& pot, int status) {
    const pid_t group = pot->pid;
    pot->pid = -1;
    pot->kill_timer.cancel();
    // What the pot started may outlive it (and hold its ports): the whole
    // group goes.
    if (group > 0) {
      ::kill(-group, SIGKILL);
    }
    const auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - pot->started);
    const auto how = describe_exit(status);
    note(*pot, fmt::format("{} after {:.1f} s", how, static_cast<double>(ran.count()) / 1000.0));
    auto waiters = std::move(pot->on_exit);
    pot->on_exit.clear();
    if (pot->stopping) {
      pot->stopping = false;
      set_status(*pot, PotStatus::stopped, {});
      for (auto& w : waiters) {
        w();
      }
      return;
    }
    if (pot->wanted != Wanted::running || shutting_down) {
      set_status(*pot, PotStatus::stopped, how);
      notify(status_of(*pot));
      return;
    }
    // A crash: restart after a delay that doubles with every quick crash.
    if (ran >= options.stable_after || pot->backoff.count() == 0) {
      pot->backoff = options.restart_min;
    }
    const auto delay = pot->backoff;
    pot->backoff = std::min(pot->backoff * 2, options.restart_max);
    set_status(*pot, PotStatus::failed,
               fmt::format("{} after {:.1f} s; restarting in {:.1f} s", how, static_cast<double>(ran.count()) / 1000.0,
                           static_cast<double>(delay.count()) / 1000.0));
    log->warn("pot {}: {}", pot->spec.pot_id, pot->message);
    notify(status_of(*pot));
    pot->restart_timer.expires_after(delay);
    pot->restart_timer.async_wait([self = shared_from_this(), pot](const boost::system::error_code& ec) {
      if (ec || self->shutting_down || pot->wanted != Wanted::running || pot->pid > 0) {
        return;
      }
      ++pot->restarts;
      ++self->restart_count;
      self->start_process(pot);
      self->notify(self->status_of(*pot));
    });
  }
  /// Stops the pot's process (SIGTERM to its group, SIGKILL after the
  /// grace); `then` runs once it is gone (at once when none runs).
  void stop_process(const PotPtr& pot, std::function<void()> then) {
    pot->restart_timer.cancel();
    if (pot->pid <= 0) {
      then();
      return;
    }
    pot->on_exit.push_back(std::move(then));
    if (pot->stopping) {
      return;
    }
    pot->stopping = true;
    note(*pot, "stopping (SIGTERM)");
    ::kill(-pot->pid, SIGTERM);
    pot->kill_timer.expires_after(options.stop_grace);
    pot->kill_timer.async_wait([self = shared_from_this(), pot](const boost::system::error_code& ec) {
      if (!ec && pot->pid > 0) {
        self->note(*pot, fmt::format("still running after {} s: SIGKILL", self->options.stop_grace.count() / 1000));
        ::kill(-pot->pid, SIGKILL);
      }
    });
  }

  // ---- install ----
  void run_steps(const PotPtr& pot, const std::shared_ptr<InstallPlan>& plan, std::size_t index) {
    if (shutting_down) {
      return;
    }
    if (index == plan->steps.size()) {
      install_done(pot, {});
      return;
    }
    const auto& step = plan->steps[index];
    std::string shown;
    for (const auto& a : step.argv) {
      shown += (shown.empty() ? "" : " ") + a;
    }
    note(*pot, fmt::format("install step {}/{} ({}, as {}): {}", index + 1, plan->steps.size(), step.what,
                           step.as_pot ? "the pot" : "the node", shown));
    ChildCommand command{step.argv, step.env, step.workdir, -1, -1};
    if (step.as_pot) {
      // The catalog's install commands run the pot's code: in its sandbox,
      // on files that are its own.
      if (pot->needs_hand_over) {
        if (auto error = sandbox.hand_over(pot->spec); !error.empty()) {
          install_done(pot, error);
          return;
        }
        pot->needs_hand_over = false;
      }
      auto in_sandbox = sandboxed(pot->spec, step.argv, step.env, step.workdir, false, nullptr, nullptr);
      if (auto* error = std::get_if<std::string>(&in_sandbox)) {
        install_done(pot, fmt::format("install step '{}': {}", step.what, *error));
        return;
      }
      command = std::move(std::get<ChildCommand>(in_sandbox));
    } else {
      pot->needs_hand_over = true;
    }
    auto spawned = launch(pot, command, [self = shared_from_this(), pot, plan, index](int status) {
      const auto& s = plan->steps[index];
      const bool ok = WIFEXITED(status) && std::find(s.ok_exit_codes.begin(), s.ok_exit_codes.end(),
                                                     WEXITSTATUS(status)) != s.ok_exit_codes.end();
      if (!ok) {
        self->install_done(pot, fmt::format("install step '{}' {} (see GetPotLogs)", s.what, describe_exit(status)));
        return;
      }
      self->run_steps(pot, plan, index + 1);
    });
    if (auto* error = std::get_if<std::string>(&spawned)) {
      install_done(pot, fmt::format("install step '{}': {}", step.what, *error));
    }
  }
  void install_done(const PotPtr& pot, std::string error) {
    if (error.empty() && pot->needs_hand_over) {
      error = sandbox.hand_over(pot->spec);
      pot->needs_hand_over = false;
    }
    if (!error.empty()) {
      note(*pot, "install failed: " + error);
      log->warn("pot {}: install failed: {}", pot->spec.pot_id, error);
      set_status(*pot, PotStatus::failed, error);
      pot->wanted = Wanted::install_failed;
      save_wanted(*pot);
      notify(status_of(*pot));
      return;
    }
    note(*pot, "installed");
    log->info("pot {} ({}) installed from {}", pot->spec.pot_id, pot->spec.honeypot_type, pot->spec.source);
    pot->wanted = pot->spec.auto_start ? Wanted::running : Wanted::stopped;
    save_wanted(*pot);
    set_status(*pot, PotStatus::stopped, {});
    if (pot->spec.auto_start) {
      start_process(pot);
    }
    notify(status_of(*pot));
  }
  void install(const protocol::InstallPot& request, const Reply& reply) {
    if (!potstore) {
      load_potstore();  // read when first needed: an idle node does not keep the catalog
    }
    if (!potstore) {
      reply(failure(request.pot_id, request.honeypot_type, "no potstore catalog: " + potstore_error));
      return;
    }
    auto planned = plan_install(*potstore, request, options.install);
    if (auto* error = std::get_if<std::string>(&planned)) {
      reply(failure(request.pot_id, request.honeypot_type, *error));
      return;
    }
    auto plan = std::make_shared<InstallPlan>(std::move(std::get<InstallPlan>(planned)));
    const auto& id = plan->spec.pot_id;
    // Its uid (pot_uid_base + a slot of its own) and the ports its config
    // listens on (CAP_NET_BIND_SERVICE below the unprivileged start).
    plan->spec.uid_slot = free_uid_slot(options.sandbox.uid_base, used_slots());
    if (!plan->spec.uid_slot) {
      reply(failure(
          id, request.honeypot_type,
          fmt::format("no free pot uid from pot_uid_base {} ({} slots)", options.sandbox.uid_base, kPotUidSlots)));
      return;
    }
    plan->spec.ports = pot_ports(potstore->find(plan->spec.honeypot_type), plan->spec.config);
    if (auto it = pots.find(id); it != pots.end()) {
      const auto& old = *it->second;
      if (old.wanted != Wanted::install_failed) {
        reply(failure(id, request.honeypot_type,
                      fmt::format("pot {} is already installed (type {}); it can be installed again only after a "
                                  "failed install",
                                  id, old.spec.honeypot_type)));
        return;
      }
      pots.erase(it);
    }
    std::error_code ec;
    fs::remove_all(pot_dir(id), ec);
    fs::create_directories(pot_dir(id), ec);
    if (ec) {
      reply(
          failure(id, request.honeypot_type, fmt::format("cannot create {}: {}", pot_dir(id).string(), ec.message())));
      return;
    }
    auto pot = std::make_shared<Pot>(io);
    pot->spec = plan->spec;
    pot->wanted = Wanted::installing;
    open_logs(*pot);
    if (!write_file(pot_dir(id) / "pot.json", to_json(pot->spec))) {
      reply(failure(id, request.honeypot_type, "cannot write " + (pot_dir(id) / "pot.json").string()));
      return;
    }
    save_wanted(*pot);
    pots[id] = pot;
    set_status(*pot, PotStatus::installing, {});
    if (auto error = sandbox.prepare_files(pot->spec); !error.empty()) {
      reply(status_of(*pot));
      install_done(pot, error);
      return;
    }
    reply(status_of(*pot));
    if (plan->copy_from) {
      // A local folder: copied on this thread (pots are small; the event
      // port and the link have their own threads).
      fs::create_directories(pot->spec.workdir, ec);
      fs::copy(*plan->copy_from, pot->spec.workdir, fs::copy_options::recursive | fs::copy_options::overwrite_existing,
               ec);
      if (ec) {
        install_done(pot, fmt::format("cannot copy {}: {}", plan->copy_from->string(), ec.message()));
        return;
      }
      pot->needs_hand_over = true;
      note(*pot, "copied " + plan->copy_from->string());
    }
    run_steps(pot, plan, 0);
  }

  // ---- commands ----
  PotPtr find(const std::string& id) const {
    auto it = pots.find(id);
    return it == pots.end() ? nullptr : it->second;
  }
  std::set<std::uint32_t> used_slots() const {
    std::set<std::uint32_t> used;
    for (const auto& [id, pot] : pots) {
      if (pot->spec.uid_slot) {
        used.insert(*pot->spec.uid_slot);
      }
    }
    return used;
  }
  std::string info_json(const Pot& pot) const {
    std::string out = "{\"pot_id\":";
    json_text::append_string(out, pot.spec.pot_id);
    out += ",\"honeypot_type\":";
    json_text::append_string(out, pot.spec.honeypot_type);
    out += ",\"source\":";
    json_text::append_string(out, pot.spec.source);
    out += ",\"workdir\":";
    json_text::append_string(out, sandbox.workdir_of(pot.spec).string());
    out += ",\"argv\":[";
    for (std::size_t i = 0; i < pot.spec.argv.size(); ++i) {
      out += i == 0 ? "" : ",";
      json_text::append_string(out, pot.spec.argv[i]);
    }
    out += "],\"config\":{";
    bool first = true;
    for (const auto& [key, value] : pot.spec.config) {
      out += first ? "" : ",";
      first = false;
      json_text::append_string(out, key);
      out += ':';
      json_text::append_string(out, value);
    }
    out += fmt::format(R"(}},"auto_start":{},"wanted":"{}","pid":{})", pot.spec.auto_start, to_string(pot.wanted),
                       pot.pid);
    // What its last start ran with; before any, what it would.
    out += ",\"sandbox\":";
    if (!pot.sandbox_json.empty()) {
      out += pot.sandbox_json;
    } else {
      auto preview = sandbox.plan(pot.spec, pot.spec.argv, sandbox.workdir_of(pot.spec), true);
      if (auto* plan = std::get_if<PotSandbox::Plan>(&preview)) {
        out += plan->json;
      } else {
        out += "{\"error\":";
        json_text::append_string(out, std::get<std::string>(preview));
        out += '}';
      }
    }
    if (!pot.message.empty()) {
      out += ",\"message\":";
      json_text::append_string(out, pot.message);
    }
    out += '}';
    return out;
  }
  std::string metrics_json(const Pot& pot) const {
    std::uint64_t events = 0;
    {
      std::lock_guard lock(counts_mutex);
      if (auto it = event_counts.find(pot.spec.pot_id); it != event_counts.end()) {
        events = it->second;
      }
    }
    const double uptime = pot.pid > 0 ? std::chrono::duration<double>(Clock::now() - pot.started).count() : 0.0;
    return fmt::format(R"({{"pot_id":"{}","status":"{}","pid":{},"events":{},"uptime_seconds":{:.3f},"restarts":{},)"
                       R"("resident_bytes":{},"log_bytes":{}}})",
                       pot.spec.pot_id, protocol::to_string(pot.status), pot.pid, events, uptime, pot.restarts,
                       pot.pid > 0 ? group_resident_bytes(pot.pid) : 0, pot.out.size() + pot.err.size());
  }
  std::string logs_json(const Pot& pot) const {
    std::string out = "{\"stdout\":";
    json_text::append_string(out, pot.out.tail(options.log_tail_bytes));
    out += ",\"stderr\":";
    json_text::append_string(out, pot.err.tail(options.log_tail_bytes));
    out += '}';
    return out;
  }
  /// A pot can be started once installed; otherwise the reply says why.
  bool runnable(const Pot& pot, const Reply& reply) const {
    if (pot.wanted != Wanted::installing && pot.wanted != Wanted::install_failed) {
      return true;
    }
    reply(failure(pot.spec.pot_id, pot.spec.honeypot_type,
                  pot.wanted == Wanted::installing ? "still installing" : "its install failed: " + pot.message));
    return false;
  }
  void handle(const Command& command, const Reply& reply) {
    if (command.kind == Command::Kind::install_pot) {
      if (command.install) {
        install(*command.install, reply);
      }
      return;
    }
    if (command.kind == Command::Kind::get_installed_pots) {
      for (const auto& [id, pot] : pots) {
        reply(status_of(*pot));
      }
      // The end of the list (also when it is empty): a status, which every
      // core accepts at any time.
      reply(protocol::NodeStatusUpdate{options.node_id, protocol::NodeStatus::running});
      return;
    }
    if (command.kind == Command::Kind::restart) {
      restart_all(reply);
      return;
    }
    if (command.kind == Command::Kind::update_config) {
      load_potstore();
      if (!potstore) {
        reply(protocol::NodeEvent{protocol::NodeEvent::Kind::error, "potstore: " + potstore_error});
      } else {
        reply(protocol::NodeStatusUpdate{options.node_id, protocol::NodeStatus::running});
      }
      return;
    }
    auto pot = find(command.pot_id);
    if (!pot) {
      auto why =
          fmt::format("no pot {} on this node (GetInstalledPots lists them; InstallPot adds one)", command.pot_id);
      if (command.kind == Command::Kind::get_pot_info || command.kind == Command::Kind::get_pot_logs ||
          command.kind == Command::Kind::get_pot_metrics) {
        // These are answered with a JSON document, an error too: that is
        // how the core tells the answer from a status change (docs/POTS.md).
        std::string document = "{\"error\":";
        json_text::append_string(document, why);
        why = document + "}";
      }
      reply(failure(command.pot_id, {}, std::move(why)));
      return;
    }
    const bool installing = pot->wanted == Wanted::installing;
    switch (command.kind) {
      case Command::Kind::deploy_pot:
        if (!runnable(*pot, reply)) {
          return;
        }
        pot->wanted = Wanted::running;
        save_wanted(*pot);
        if (pot->pid <= 0) {
          pot->backoff = std::chrono::milliseconds(0);
          start_process(pot);
        }
        reply(status_of(*pot));
        return;
      case Command::Kind::stop_pot:
        if (installing) {
          reply(failure(pot->spec.pot_id, pot->spec.honeypot_type, "still installing"));
          return;
        }
        if (pot->wanted == Wanted::running) {
          pot->wanted = Wanted::stopped;
          save_wanted(*pot);
        }
        stop_process(pot, [self = shared_from_this(), pot, reply]() {
          if (pot->wanted != Wanted::install_failed) {
            self->set_status(*pot, PotStatus::stopped, {});
          }
          reply(self->status_of(*pot));
        });
        return;
      case Command::Kind::restart_pot:
        if (!runnable(*pot, reply)) {
          return;
        }
        pot->wanted = Wanted::running;
        save_wanted(*pot);
        stop_process(pot, [self = shared_from_this(), pot, reply]() {
          ++pot->restarts;
          ++self->restart_count;
          pot->backoff = std::chrono::milliseconds(0);
          self->start_process(pot);
          reply(self->status_of(*pot));
        });
        return;
      case Command::Kind::get_pot_status:
        reply(status_of(*pot));
        return;
      case Command::Kind::get_pot_info:
        reply(status_of(*pot, info_json(*pot)));
        return;
      case Command::Kind::get_pot_logs:
        reply(status_of(*pot, logs_json(*pot)));
        return;
      case Command::Kind::get_pot_metrics:
        reply(status_of(*pot, metrics_json(*pot)));
        return;
      default:
        reply(protocol::NodeEvent{protocol::NodeEvent::Kind::error,
                                  fmt::format("command {} is not supported", protocol::to_string(command.kind))});
    }
  }
  /// Restart: every pot that should run is stopped and started again.
  void restart_all(const Reply& reply) {
    auto remaining = std::make_shared<std::size_t>(1);
    auto finish = [self = shared_from_this(), remaining, reply]() {
      if (--*remaining == 0) {
        reply(protocol::NodeStatusUpdate{self->options.node_id, protocol::NodeStatus::running});
      }
    };
    for (const auto& entry : pots) {
      const PotPtr& pot = entry.second;  // not a structured binding: clang 15 cannot capture one
      if (pot->wanted != Wanted::running) {
        continue;
      }
      ++*remaining;
      stop_process(pot, [self = shared_from_this(), pot, finish]() {
        ++pot->restarts;
        ++self->restart_count;
        pot->backoff = std::chrono::milliseconds(0);
        self->start_process(pot);
        self->notify(self->status_of(*pot));
        finish();
      });
    }
    finish();
  }

  // ---- start and stop ----
  void load_potstore() {
    auto loaded = Potstore::load(options.potstore_file);
    if (auto* error = std::get_if<std::string>(&loaded)) {
      potstore.reset();
      potstore_error = *error;
      return;
    }
    potstore = std::move(std::get<Potstore>(loaded));
    potstore_error.clear();
  }
  /// The node config declares this pot with another type or config.
  bool declared_differently(const PotSpec& spec) const {
    for (const auto& d : options.declared) {
      if (d.pot_id == spec.pot_id) {
        return d.honeypot_type != spec.honeypot_type ||
               d.config.value_or(std::map<std::string, std::string>{}) != spec.config;
      }
    }
    return false;
  }
  /// A pot.json written before uid slots and ports were recorded, or one
  /// whose slot another pot holds, gets them now (and is saved).
  void complete_specs() {
    std::set<std::uint32_t> used;
    for (const auto& [id, pot] : pots) {
      if (pot->spec.uid_slot && !used.contains(*pot->spec.uid_slot)) {
        used.insert(*pot->spec.uid_slot);
      } else {
        pot->spec.uid_slot.reset();
      }
    }
    for (const auto& [id, pot] : pots) {
      bool change = false;
      if (!pot->spec.uid_slot) {
        pot->spec.uid_slot = free_uid_slot(options.sandbox.uid_base, used);
        if (pot->spec.uid_slot) {
          used.insert(*pot->spec.uid_slot);
          change = true;
        }
      }
      if (!pot->spec.ports) {
        if (!potstore && potstore_error.empty()) {
          load_potstore();
        }
        pot->spec.ports = pot_ports(potstore ? potstore->find(pot->spec.honeypot_type) : nullptr, pot->spec.config);
        change = true;
      }
      if (change && !write_file(pot_dir(id) / "pot.json", to_json(pot->spec))) {
        log->warn("pot {}: cannot update {}", id, (pot_dir(id) / "pot.json").string());
      }
    }
  }
  void load_pots() {
    std::error_code ec;
    fs::create_directories(options.pots_dir, ec);
    std::vector<fs::directory_entry> folders;
    for (const auto& entry : fs::directory_iterator(options.pots_dir, ec)) {
      if (entry.is_directory()) {
        folders.push_back(entry);
      }
    }
    for (const auto& entry : folders) {
      const auto file = entry.path() / "pot.json";
      auto text = host::read_text_file(file);
      if (!text) {
        continue;
      }
      auto parsed = pot_spec_from_json(*text);
      if (auto* error = std::get_if<std::string>(&parsed)) {
        log->warn("{}: {}; this pot is skipped", file.string(), *error);
        continue;
      }
      auto pot = std::make_shared<Pot>(io);
      pot->spec = std::move(std::get<PotSpec>(parsed));
      if (pot->spec.pot_id != entry.path().filename().string()) {
        log->warn("{}: pot_id {} does not match its folder; this pot is skipped", file.string(), pot->spec.pot_id);
        continue;
      }
      if (declared_differently(pot->spec)) {
        log->info("pot {}: its type or config in the node config changed; installing it again", pot->spec.pot_id);
        fs::remove_all(entry.path(), ec);
        continue;
      }
      const auto state = host::read_text_file(entry.path() / "state").value_or("stopped\n");
      const auto newline = state.find('\n');
      const auto wanted = wanted_from(state.substr(0, newline));
      pot->wanted = wanted.value_or(Wanted::stopped);
      open_logs(*pot);
      pots[pot->spec.pot_id] = pot;
      switch (pot->wanted) {
        case Wanted::installing:
          // The node stopped in the middle of the install.
          pot->wanted = Wanted::install_failed;
          set_status(*pot, PotStatus::failed, "the node stopped while it was installing; install it again");
          save_wanted(*pot);
          break;
        case Wanted::install_failed: {
          const auto rest = newline == std::string::npos ? std::string() : state.substr(newline + 1);
          set_status(*pot, PotStatus::failed, rest.substr(0, rest.find('\n')));
          break;
        }
        case Wanted::running:
          break;  // started below, once every pot has its uid
        case Wanted::stopped:
          set_status(*pot, PotStatus::stopped, {});
          break;
      }
    }
    complete_specs();
    for (const auto& [id, pot] : pots) {
      if (pot->wanted == Wanted::running) {
        start_process(pot);
      }
    }
    refresh_counts();
  }
  void stop_all(std::function<void()> done) {
    shutting_down = true;
    auto remaining = std::make_shared<std::size_t>(1);
    auto finish = [remaining, done = std::move(done)]() {
      if (--*remaining == 0) {
        done();
      }
    };
    for (const auto& [id, pot] : pots) {
      pot->restart_timer.cancel();
      if (pot->pid > 0) {
        ++*remaining;
        stop_process(pot, finish);
      }
    }
    // Install steps still running are killed too (the pot stays
    // "installing" on disk and is reported failed at the next start).
    for (const auto& [pid, on_exit] : children) {
      bool is_pot = false;
      for (const auto& [id, pot] : pots) {
        is_pot = is_pot || pot->pid == pid;
      }
      if (!is_pot) {
        ::kill(-pid, SIGKILL);
      }
    }
    finish();
  }
};

PotManager::PotManager(asio::io_context& io, PotManagerOptions options, Notify notify)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(notify))) {}

PotManager::~PotManager() = default;

std::string PotManager::start() {
  // Runs before the manager's thread does: nothing else touches impl_ yet.
  // The catalog is read when an install needs it (here for declared pots).
  impl_->watch_children();
  for (const auto& warning : impl_->sandbox.start()) {
    impl_->log->warn("pots: {}", warning);
  }
  impl_->log->info("pots run {}", impl_->sandbox.describe());
  impl_->load_pots();
  for (const auto& pot : impl_->options.declared) {
    if (impl_->pots.contains(pot.pot_id)) {
      continue;  // installed before: what runs is what was installed (UpdateConfig does not reinstall)
    }
    impl_->install(pot, [log = impl_->log](const protocol::Message& answer) {
      if (const auto* status = std::get_if<protocol::PotStatusUpdate>(&answer);
          status != nullptr && status->status == PotStatus::failed) {
        log->error("pot {} from the node config: {}", status->pot_id, status->message.value_or(""));
      }
    });
  }
  return impl_->potstore_error;
}

void PotManager::stop(std::function<void()> done) {
  asio::post(impl_->io, [impl = impl_, done = std::move(done)]() mutable { impl->stop_all(std::move(done)); });
}

void PotManager::handle(const protocol::Command& command, const Reply& reply) {
  asio::post(impl_->io, [impl = impl_, command, reply]() { impl->handle(command, reply); });
}

void PotManager::count_events(std::string_view pot_id, std::uint64_t n) {
  std::lock_guard lock(impl_->counts_mutex);
  auto it = impl_->event_counts.find(std::string(pot_id));
  if (it == impl_->event_counts.end()) {
    if (impl_->event_counts.size() >= 4096) {
      return;  // ids are attacker text: the table is bounded
    }
    it = impl_->event_counts.emplace(std::string(pot_id), 0).first;
  }
  it->second += n;
}

bool PotManager::any_running() const {
  return impl_->running_count.load(std::memory_order_relaxed) > 0;
}

std::string PotManager::pot_for_connection(const asio::ip::tcp::endpoint& local,
                                           const asio::ip::tcp::endpoint& remote) const {
  if (!any_running() || !remote.address().is_loopback()) {
    return {};
  }
  std::vector<std::pair<pid_t, std::string>> running;
  {
    std::lock_guard lock(impl_->counts_mutex);
    running = impl_->running_pots;
  }
  const auto inode = peer_socket_inode(local, remote);
  if (!inode) {
    return {};
  }
  for (const auto& [pid, id] : running) {
    if (process_holds_socket(pid, *inode)) {
      return id;
    }
  }
  return {};
}

std::string PotManager::stats_json() const {
  return fmt::format(R"({{"installed":{},"running":{},"restarts":{}}})", impl_->installed_count.load(),
                     impl_->running_count.load(), impl_->restart_count.load());
}

}  // namespace honeycomb::node
