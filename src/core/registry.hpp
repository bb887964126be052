// The core's view of the fleet: every node that ever registered, its pots,
// their status and last-seen time. In memory (authoritative while the core
// runs) and persisted through store::Storage so it survives a restart.
// Thread-safe: node sessions update it, the API reads snapshots.
#pragma once

#include "protocol/messages.hpp"
#include "store/storage.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace honeycomb::core {

using protocol::NodeId;

/// A node as the API shows it.
struct NodeView {
  store::NodeRecord record;       ///< persisted part (status "Unknown" until the first status)
  bool connected = false;         ///< a session is open now
  bool lost = false;              ///< connected but silent for 3 heartbeat intervals, or disconnected without NodeDrop
  bool dropped = false;           ///< left with NodeDrop
  std::int64_t connected_since_us = 0;
  std::uint64_t events_received = 0;  ///< PotEvents since the core started
  /// "Unknown" | "Running" | ... | "Lost" | "Offline": what a user should read.
  std::string state() const;
};

class Registry {
 public:
  /// `heartbeat`: the nodes' status interval (30 s in the protocol); a node
  /// silent for 3 of them is lost.
  Registry(store::Storage& storage, std::chrono::milliseconds heartbeat);

  /// Loads the persisted nodes (all shown offline until they reconnect).
  void load();

  // ---- updates from node sessions ----
  void on_registered(const protocol::NodeRegistration& reg, std::int64_t now_us);
  void on_status(NodeId id, protocol::NodeStatus status, std::int64_t now_us);
  void on_pot_status(const protocol::PotStatusUpdate& update, std::int64_t now_us);
  /// Any message: refreshes last-seen.
  void on_seen(NodeId id, std::int64_t now_us);
  void on_events(NodeId id, const std::string& pot_id, const std::string& pot_type, std::uint64_t count,
                 std::int64_t now_us);
  void on_disconnected(NodeId id, bool dropped, std::int64_t now_us);

  // ---- reads (snapshots) ----
  std::vector<NodeView> nodes(std::int64_t now_us) const;
  std::optional<NodeView> node(NodeId id, std::int64_t now_us) const;
  bool is_connected(NodeId id) const;
  std::size_t connected_count() const;

  /// Writes changed records to storage (called periodically and at exit;
  /// status changes are persisted at once).
  void persist_dirty();

 private:
  struct Entry {
    NodeView view;
    bool dirty = false;
  };
  void persist_locked(Entry& e);
  NodeView snapshot_locked(const Entry& e, std::int64_t now_us) const;

  store::Storage& storage_;
  std::chrono::milliseconds heartbeat_;
  mutable std::mutex mutex_;
  std::map<NodeId, Entry> nodes_;
};

}  // namespace honeycomb::core
