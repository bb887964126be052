// See ingest_queue.hpp.
#include "store/ingest_queue.hpp"

#include "common/clock.hpp"
#include "common/thread_name.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace honeycomb::store {

IngestQueue::IngestQueue(std::size_t capacity)
    : capacity_(capacity), reaper_([this] {
        name_this_thread("store-reaper");
        reap_loop();
      }) {}

IngestQueue::~IngestQueue() {
  {
    std::lock_guard lk(reap_mu_);
    reap_stop_ = true;
  }
  reap_cv_.notify_one();
  reaper_.join();
}

void IngestQueue::reap_loop() {
  std::vector<std::vector<events::Event>> taken;
  while (true) {
    {
      std::unique_lock lk(reap_mu_);
      reap_cv_.wait(lk, [&] { return reap_stop_ || !spent_.empty(); });
      if (spent_.empty()) {
        return;  // stopping, and nothing left to free
      }
      taken.swap(spent_);
      spent_events_ = 0;
    }
    taken.clear();
  }
}

bool IngestQueue::append(std::vector<events::Event>& batch, std::function<void(bool ok)> on_committed) {
  const std::size_t n = batch.size();
  {
    std::lock_guard lk(mu_);
    if (stopping_) {
      return false;
    }
    // A batch larger than the whole queue is taken when the queue is
    // empty: refusing it forever would be a livelock.
    if (queued_ != 0 && queued_ + n > capacity_) {
      return false;
    }
    queue_.push_back(PendingBatch{std::move(batch), std::move(on_committed)});
    queued_ += n;
    appended_seq_ += n + 1;  // +1: an empty batch is work too (its callback)
  }
  batch.clear();
  appended_.fetch_add(n, std::memory_order_relaxed);
  work_cv_.notify_one();
  return true;
}

void IngestQueue::flush() {
  std::unique_lock lk(mu_);
  const auto target = appended_seq_;
  done_cv_.wait(lk, [&] { return processed_seq_ >= target; });
}

void IngestQueue::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
}

bool IngestQueue::take(WriterWork& work, std::size_t max_events,
                       std::optional<std::chrono::steady_clock::time_point> until, const std::function<bool()>& wake) {
  std::unique_lock lk(mu_);
  const auto ready = [&] { return stopping_ || !queue_.empty() || (wake && wake()); };
  if (until) {
    work_cv_.wait_until(lk, *until, ready);
  } else {
    work_cv_.wait(lk, ready);
  }
  while (!queue_.empty() && (work.batches.empty() || work.events + queue_.front().events.size() <= max_events)) {
    work.events += queue_.front().events.size();
    work.batches.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (!work.batches.empty()) {
    work.ticket = next_ticket_++;
  }
  return !(work.batches.empty() && stopping_);
}

void IngestQueue::finish(WriterWork& work, bool ok, std::uint64_t stored) {
  if (ok) {
    stored_.fetch_add(stored, std::memory_order_relaxed);
    transactions_.fetch_add(1, std::memory_order_relaxed);
    duplicates_.fetch_add(work.events - stored, std::memory_order_relaxed);
    std::int64_t oldest = 0;
    for (const auto& batch : work.batches) {
      for (const auto& e : batch.events) {
        if (e.received_us > 0 && (oldest == 0 || e.received_us < oldest)) {
          oldest = e.received_us;
        }
      }
    }
    if (oldest > 0) {
      last_commit_lag_us_.store(unix_now_us() - oldest, std::memory_order_relaxed);
    }
  } else {
    failed_.fetch_add(work.events, std::memory_order_relaxed);
  }
  // The events go to the reaper now; the callbacks wait for their turn.
  bool handed = false;
  {
    std::lock_guard lk(reap_mu_);
    if (spent_events_ + work.events <= kMaxSpentEvents && !reap_stop_) {
      for (auto& batch : work.batches) {
        spent_.push_back(std::move(batch.events));
      }
      spent_events_ += work.events;
      handed = true;
    }
  }
  if (handed) {
    reap_cv_.notify_one();
  } else {
    for (auto& batch : work.batches) {
      std::vector<events::Event>().swap(batch.events);
    }
  }
  std::unique_lock lk(order_mu_);
  finished_.emplace(work.ticket, Finished{std::move(work.batches), work.events, ok});
  work.batches.clear();
  work.events = 0;
  if (delivering_) {
    return;  // the writer delivering now takes ours too, in its turn
  }
  delivering_ = true;
  for (auto it = finished_.find(next_delivery_); it != finished_.end(); it = finished_.find(next_delivery_)) {
    Finished f = std::move(it->second);
    finished_.erase(it);
    ++next_delivery_;
    lk.unlock();
    deliver(f);
    lk.lock();
  }
  delivering_ = false;
}

void IngestQueue::deliver(Finished& f) {
  for (auto& batch : f.batches) {
    if (!batch.on_committed) {
      continue;
    }
    try {
      batch.on_committed(f.ok);
    } catch (const std::exception& e) {
      spdlog::error("store: on_committed threw: {}", e.what());
    } catch (...) {
      spdlog::error("store: on_committed threw");
    }
  }
  {
    std::lock_guard lk(mu_);
    queued_ -= f.events;
    processed_seq_ += f.events + f.batches.size();
  }
  done_cv_.notify_all();
}

Counters IngestQueue::counters() const {
  Counters c;
  c.appended = appended_.load(std::memory_order_relaxed);
  c.stored = stored_.load(std::memory_order_relaxed);
  c.duplicates = duplicates_.load(std::memory_order_relaxed);
  c.failed = failed_.load(std::memory_order_relaxed);
  {
    std::lock_guard lk(mu_);
    c.queued = queued_;
  }
  c.retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
  c.retention_steps = retention_steps_.load(std::memory_order_relaxed);
  c.transactions = transactions_.load(std::memory_order_relaxed);
  c.last_commit_lag_us = last_commit_lag_us_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace honeycomb::store
