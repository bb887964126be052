// Who may delete spooled events: the core (its EventAcks) and the local
// outputs (what they delivered). An event leaves the spool once every
// consumer the node has is done with it: the spool is acknowledged up to the
// lowest position. The core's own position is kept here, in memory, so the
// link resumes after what the core confirmed even while a local output lags
// (after a node restart it resumes at the spool's acknowledged seq: the core
// stores a resent event once).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace honeycomb::spool {
class Spool;
}

namespace honeycomb::node {

class AckGate {
 public:
  /// `core`, `outputs`: which consumers this node has.
  AckGate(spool::Spool& spool, bool core, bool outputs);

  /// The core confirmed storing everything up to `seq`.
  void core_confirmed(std::uint64_t seq);
  /// The local outputs delivered everything up to `seq`.
  void outputs_delivered(std::uint64_t seq);
  /// Highest seq the core confirmed (starts at the spool's acknowledged seq).
  std::uint64_t core_position() const { return core_.load(std::memory_order_acquire); }

 private:
  void release();
  spool::Spool& spool_;
  const bool has_core_;
  const bool has_outputs_;
  std::mutex mutex_;
  std::atomic<std::uint64_t> core_;
  std::uint64_t outputs_;
};

}  // namespace honeycomb::node
