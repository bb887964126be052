// Fan-out of live items (events, node and pot status changes) from the node
// sessions to the WebSocket clients. publish() is cheap when nobody listens
// (the JSON is rendered only then) and never blocks: each subscriber owns a
// bounded queue (see the WebSocket server).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace honeycomb::core {

struct StreamItem {
  enum class Kind { event, node_status, pot_status, node_event };
  Kind kind = Kind::event;
  std::uint64_t node_id = 0;
  std::string pot_id;
  std::string pot_type;
  std::string event_type;
  std::string src_ip;
  std::string json;  ///< the complete text frame sent to clients
};

/// The wire name of a kind ("event", "node_status", ...): the frames'
/// `type` and the WebSocket filter's `kinds` values.
inline std::string_view kind_name(StreamItem::Kind kind) {
  switch (kind) {
    case StreamItem::Kind::event:
      return "event";
    case StreamItem::Kind::node_status:
      return "node_status";
    case StreamItem::Kind::pot_status:
      return "pot_status";
    case StreamItem::Kind::node_event:
      return "node_event";
  }
  return "event";
}

class StreamHub {
 public:
  using Subscriber = std::function<void(const std::shared_ptr<const StreamItem>&)>;

  std::uint64_t subscribe(Subscriber s) {
    std::lock_guard lock(mutex_);
    subscribers_.emplace(++next_id_, std::move(s));
    count_.store(subscribers_.size(), std::memory_order_relaxed);
    return next_id_;
  }
  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    subscribers_.erase(id);
    count_.store(subscribers_.size(), std::memory_order_relaxed);
  }
  /// Lets publishers skip rendering when nobody listens.
  bool has_subscribers() const { return count_.load(std::memory_order_relaxed) != 0; }
  /// Subscribers must not block (they queue and return).
  void publish(std::shared_ptr<const StreamItem> item) {
    std::lock_guard lock(mutex_);
    for (auto& [id, s] : subscribers_) {
      s(item);
    }
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, Subscriber> subscribers_;
  std::uint64_t next_id_ = 0;
  std::atomic<std::size_t> count_{0};
};

}  // namespace honeycomb::core
