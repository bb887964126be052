#include "node/ack_gate.hpp"

#include "spool/spool.hpp"

#include <algorithm>

namespace honeycomb::node {

AckGate::AckGate(spool::Spool& spool, bool core, bool outputs)
    : spool_(spool), has_core_(core), has_outputs_(outputs), core_(spool.acked_seq()), outputs_(spool.acked_seq()) {}

void AckGate::core_confirmed(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  if (seq > core_.load(std::memory_order_relaxed)) {
    core_.store(seq, std::memory_order_release);
  }
  release();
}

void AckGate::outputs_delivered(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  outputs_ = std::max(outputs_, seq);
  release();
}

void AckGate::release() {
  std::uint64_t done = UINT64_MAX;
  if (has_core_) {
    done = std::min(done, core_.load(std::memory_order_relaxed));
  }
  if (has_outputs_) {
    done = std::min(done, outputs_);
  }
  if (done != UINT64_MAX) {
    spool_.acknowledge(done);  // ignores a seq at or below the current one
  }
}

}  // namespace honeycomb::node
