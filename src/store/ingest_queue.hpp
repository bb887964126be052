// The bounded queue between Storage::append() (network threads) and a
// storage's writer thread, with the counters every backend reports. Both
// backends use it, so that backpressure, flush() and the commit callbacks
// behave the same whatever the database.
#pragma once

#include "events/event.hpp"
#include "store/storage.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace honeycomb::store {

/// One append() call, as the writer takes it.
struct PendingBatch {
  std::vector<events::Event> events;
  std::function<void(bool)> on_committed;
};

/// What a writer took for one transaction.
struct WriterWork {
  std::vector<PendingBatch> batches;
  std::size_t events = 0;
  std::uint64_t ticket = 0;  ///< take()'s order: finish() reports in it
  bool empty() const { return batches.empty(); }
};

class IngestQueue {
 public:
  explicit IngestQueue(std::size_t capacity);
  ~IngestQueue();
  IngestQueue(const IngestQueue&) = delete;
  IngestQueue& operator=(const IngestQueue&) = delete;

  /// Storage::append(): all of `batch` or nothing (see storage.hpp).
  bool append(std::vector<events::Event>& batch, std::function<void(bool ok)> on_committed);
  /// Storage::flush(): waits until everything appended so far was finished.
  void flush();
  /// No more appends; take() returns false once the queue is empty.
  void stop();
  /// Wakes a writer waiting in take() (to look at `wake` again).
  void notify() { work_cv_.notify_one(); }

  /// Writer: waits for batches (until `until` when set, or `wake()` says
  /// so), then moves whole batches of at most `max_events` events in all
  /// (at least one batch) into `work`. False when stopped and drained.
  bool take(WriterWork& work, std::size_t max_events, std::optional<std::chrono::steady_clock::time_point> until,
            const std::function<bool()>& wake = {});
  /// Writer: the transaction for `work` committed (`ok`, `stored` of its
  /// events new, the rest duplicates) or failed: counts it, runs each
  /// batch's on_committed (an exception from one is logged), wakes flush().
  /// The events themselves are freed by the reaper thread, not the writer.
  ///
  /// Several writers may take and finish work at once (PostgreSQL's
  /// `writers`); the callbacks still run in the order the work was taken,
  /// by whichever writer finishes the oldest: a node's acknowledgement
  /// covers everything up to a sequence number, so a later batch's
  /// success must never be reported before an earlier batch's failure.
  void finish(WriterWork& work, bool ok, std::uint64_t stored);

  /// One retention step ran and deleted `deleted` events.
  void count_retention(std::uint64_t deleted) {
    retention_deleted_.fetch_add(deleted, std::memory_order_relaxed);
    retention_steps_.fetch_add(1, std::memory_order_relaxed);
  }
  Counters counters() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;  ///< queue_, queued_, the sequences, stopping_
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<PendingBatch> queue_;
  std::size_t queued_ = 0;  ///< events appended, not finished (in the queue or being committed)
  std::uint64_t appended_seq_ = 0;
  std::uint64_t processed_seq_ = 0;
  bool stopping_ = false;
  std::uint64_t next_ticket_ = 0;  ///< mu_

  /// Finished work whose callbacks wait for older work to finish.
  struct Finished {
    std::vector<PendingBatch> batches;  ///< their callbacks (events already handed to the reaper)
    std::size_t events = 0;
    bool ok = false;
  };
  void deliver(Finished& f);
  std::mutex order_mu_;
  std::map<std::uint64_t, Finished> finished_;  ///< order_mu_, by ticket
  std::uint64_t next_delivery_ = 0;             ///< order_mu_
  bool delivering_ = false;                     ///< order_mu_: a writer runs callbacks

  std::atomic<std::uint64_t> appended_{0}, stored_{0}, duplicates_{0}, failed_{0}, transactions_{0},
      retention_deleted_{0}, retention_steps_{0};
  std::atomic<std::int64_t> last_commit_lag_us_{0};

  // Freeing a committed transaction's events (a few allocations each, made
  // by the network threads) took a tenth of the writer's time, and the
  // writer is the one thread every event waits for: a reaper thread frees
  // them beside it. At most kMaxSpentEvents wait for it (two transactions
  // at the default ingest_batch, ~100 MB); past that the writer frees inline.
  static constexpr std::size_t kMaxSpentEvents = 65536;
  void reap_loop();
  std::mutex reap_mu_;
  std::condition_variable reap_cv_;
  std::vector<std::vector<events::Event>> spent_;  ///< reap_mu_
  std::size_t spent_events_ = 0;                   ///< reap_mu_: events in spent_
  bool reap_stop_ = false;                         ///< reap_mu_
  std::thread reaper_;
};

}  // namespace honeycomb::store
