// Local outputs: the node feeds every event to configured integrations
// (json_file, syslog, ... from the plugin library) beside the core or, for a
// standalone sensor, instead of it (docs/OUTPUTS.md).
//
// They read the durable spool on their own thread from their own position
// (<data_dir>/outputs.position), deliver each batch to every output in turn
// (retrying one that fails, with backoff, until it takes the batch), then
// save the position and tell the AckGate, so that an event leaves the spool
// only once the core and every output are done with it. Delivery is at
// least once: after a crash or a stop in the middle of a batch, that batch
// is delivered again.
#pragma once

#include "node/config.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

namespace honeycomb::spool {
class Spool;
}

namespace honeycomb::node {

class AckGate;

class LocalOutputs {
 public:
  /// Loads every configured output (its config.json from the plugin library,
  /// its args validated); the error names the output and what is wrong.
  static std::variant<std::unique_ptr<LocalOutputs>, std::string> create(const NodeConfig& config,
                                                                         std::uint64_t node_id, spool::Spool& spool,
                                                                         AckGate& gate);
  ~LocalOutputs();
  LocalOutputs(const LocalOutputs&) = delete;
  LocalOutputs& operator=(const LocalOutputs&) = delete;

  /// The seq up to which every output has delivered (saved), for AckGate.
  std::uint64_t position() const;
  void start();
  /// New events are in the spool. Thread-safe, cheap.
  void wake();
  /// Stops after the send in progress (bounded by the integrations' own
  /// timeouts) and joins the thread.
  void stop();
  /// {"position":N,"delivered":N,"failures":N} for stats.json. Thread-safe.
  std::string stats_json() const;

  struct Impl;

 private:
  explicit LocalOutputs(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace honeycomb::node
