// The pot manager: runs each honeypot ("pot") of the node as a child process
// and answers the core's pot commands (docs/POTS.md).
//
// - InstallPot plans the install with the potstore (no shell: argv vectors),
//   reports Installing, copies or clones the pot, runs its install steps as
//   child processes (output in the pot's logs), then Stopped or, with
//   auto_start, Running.
// - A running pot gets HONEYBEE_EVENT_PORT, HONEYBEE_POT_ID and
//   HONEYBEE_HONEYPOT_TYPE and sends its events to the event port like any
//   honeypot: one event path.
// - Each pot runs sandboxed (node/pot_sandbox.hpp): as root, under its own
//   uid, with resource limits and CAP_NET_BIND_SERVICE at most, in a mount
//   view without the node's files; install commands of the catalog run the
//   same way, the node's own fetching (copy, clone, plugin install) as the
//   node, whose result is then given to the pot.
// - A pot that exits on its own is restarted with exponential backoff
//   (reported as Failed with the reason and the delay, then Running again).
// - stdout and stderr go to <pots_dir>/<id>/logs/{stdout,stderr}.log, each
//   capped (one older file kept); GetPotLogs returns their tails.
// - What should run is saved (<pots_dir>/<id>/pot.json and state), so the
//   pots that were running come back after a node restart.
//
// Runs on its own io_context (one thread): process start, the pipes of the
// pots' output, SIGCHLD and the timers. Commands arrive from the link's
// thread and are posted there.
#pragma once

#include "node/core_link.hpp"
#include "node/pot_sandbox.hpp"
#include "node/potstore.hpp"
#include "protocol/messages.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::node {

struct PotManagerOptions {
  std::filesystem::path pots_dir;
  protocol::NodeId node_id = 0;
  std::uint16_t event_port = 9100;
  std::uint64_t log_max_bytes = std::uint64_t{1} << 20;
  std::size_t log_tail_bytes = std::size_t{16} * 1024;  ///< per stream, in GetPotLogs
  std::chrono::milliseconds restart_min{1000};
  std::chrono::milliseconds restart_max{60'000};
  std::chrono::milliseconds stable_after{60'000};
  std::chrono::milliseconds stop_grace{5'000};
  std::filesystem::path potstore_file;
  InstallPaths install;
  /// The node config's `pots:`: installed at start when not installed yet.
  std::vector<protocol::InstallPot> declared;
  /// Who pots run as, their limits (node.yml pot_user, pot_memory_mb, ...).
  PotSandboxOptions sandbox;
};

class PotManager final : public CommandHandler {
 public:
  /// `notify` sends a status change nobody asked for (a crash, a restart,
  /// the end of an install) to the core; thread-safe.
  using Notify = std::function<void(protocol::Message)>;
  PotManager(boost::asio::io_context& io, PotManagerOptions options, Notify notify);
  ~PotManager() override;
  PotManager(const PotManager&) = delete;
  PotManager& operator=(const PotManager&) = delete;

  /// Loads the installed pots and starts those that were running, then
  /// installs the declared pots not installed yet. Error text when the
  /// catalog was needed and cannot be loaded (the node still runs its
  /// installed pots; InstallPot fails with that text).
  std::string start();
  /// Stops every pot (SIGTERM, SIGKILL after the grace) without changing
  /// what should run; `done` runs on the manager's thread once all exited.
  void stop(std::function<void()> done);
  /// CommandHandler: called on the link's thread.
  void handle(const protocol::Command& command, const Reply& reply) override;
  /// The event port saw `n` events naming `pot_id`. Thread-safe.
  void count_events(std::string_view pot_id, std::uint64_t n);
  /// The pot whose main process holds the other end of an event-port
  /// connection (empty when none, or when no pot runs: then it costs
  /// nothing). Thread-safe; one sock_diag query and a look at the running
  /// pots' descriptors.
  std::string pot_for_connection(const boost::asio::ip::tcp::endpoint& local,
                                 const boost::asio::ip::tcp::endpoint& remote) const;
  /// True when at least one pot runs. Thread-safe, cheap.
  bool any_running() const;
  /// {"installed":N,"running":N,"restarts":N} for stats.json. Thread-safe.
  std::string stats_json() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace honeycomb::node
