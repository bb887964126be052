// One WebSocket client's outgoing queue. The StreamHub's publishers offer
// items from their threads (under the hub's mutex: only a short lock of
// this queue, never a wait); the client's writer coroutine takes them on the
// client's strand. Items are shared, never copied, so a client's memory is
// bounded by `capacity` shared items plus the replies it has not read.
#pragma once

#include "core/metrics.hpp"
#include "core/stream_hub.hpp"
#include "core/ws/stream_filter.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace honeycomb::core::ws {

using ItemPtr = std::shared_ptr<const StreamItem>;

class ClientQueue {
 public:
  /// `capacity` stream items (at least 1); drops are counted into
  /// metrics.ws_messages_dropped_total.
  ClientQueue(std::size_t capacity, Metrics& metrics) : capacity_(capacity == 0 ? 1 : capacity), metrics_(metrics) {}

  /// Publisher side, any thread. Queues the item when the filter matches
  /// and there is room; counts it as missed when full. Returns true when
  /// the writer is waiting for work and must be woken.
  bool offer(const ItemPtr& item) {
    std::lock_guard lock(mutex_);
    if (closed_ || !filter_.matches(*item)) {
      return false;
    }
    if (items_ >= capacity_) {
      ++missed_;
      metrics_.ws_messages_dropped_total.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    entries_.push_back(Entry{item, std::exchange(missed_, 0), false});
    ++items_;
    return std::exchange(writer_waiting_, false);
  }

  /// A reply to the client (hello, filter confirmation, error): queued
  /// behind the items already queued, outside the capacity (the reader
  /// bounds them with pending_replies()). Returns true when the writer must
  /// be woken.
  bool push_reply(ItemPtr reply) {
    std::lock_guard lock(mutex_);
    if (closed_) {
      return false;
    }
    entries_.push_back(Entry{std::move(reply), std::exchange(missed_, 0), true});
    ++replies_;
    return std::exchange(writer_waiting_, false);
  }

  struct Next {
    ItemPtr item;              ///< null: only a missed notice
    std::uint64_t missed = 0;  ///< items dropped before `item`: send {"type":"missed"} first
    bool reply = false;
  };
  /// Writer side. What to send next; nullopt when there is nothing, and the
  /// writer is then marked as waiting (the next offer/push returns true).
  /// Missed items are reported where they were dropped: before the next
  /// item queued after them, or once the queue has run empty.
  std::optional<Next> next() {
    std::lock_guard lock(mutex_);
    if (!entries_.empty()) {
      Entry e = std::move(entries_.front());
      entries_.pop_front();
      if (e.reply) {
        --replies_;
      } else {
        --items_;
      }
      return Next{std::move(e.item), e.missed_before, e.reply};
    }
    if (missed_ > 0) {
      return Next{nullptr, std::exchange(missed_, 0), false};
    }
    writer_waiting_ = !closed_;
    return std::nullopt;
  }

  void set_filter(StreamFilter filter) {
    std::lock_guard lock(mutex_);
    filter_ = std::move(filter);
  }
  std::size_t pending_replies() {
    std::lock_guard lock(mutex_);
    return replies_;
  }
  /// No more offers; queued entries are released.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    entries_.clear();
    items_ = 0;
    replies_ = 0;
  }

 private:
  struct Entry {
    ItemPtr item;
    std::uint64_t missed_before = 0;
    bool reply = false;
  };
  const std::size_t capacity_;
  Metrics& metrics_;
  std::mutex mutex_;
  std::deque<Entry> entries_;
  std::size_t items_ = 0;    ///< stream items in entries_
  std::size_t replies_ = 0;  ///< replies in entries_
  std::uint64_t missed_ = 0;
  bool writer_waiting_ = false;
  bool closed_ = false;
  StreamFilter filter_;
};

}  // namespace honeycomb::core::ws
