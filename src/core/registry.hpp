// The core's view of the fleet: every node that ever registered, its pots,
// their status and last-seen time. In memory (authoritative while the core
// runs) and persisted through store::Storage so it survives a restart.
// Thread-safe: node sessions update it, the API reads snapshots.
#pragma once

#include "protocol/messages.hpp"
#include "store/storage.hpp"

#include <atomic>
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
  store::NodeRecord record;  ///< persisted part (status "Unknown" until the first status)
  bool connected = false;    ///< a session is open now (on this core, or on core_id)
  /// Several cores on one database: the other core the node's session is
  /// on; 0 when it is on this core (or offline).
  std::uint64_t core_id = 0;
  bool lost = false;     ///< connected but silent for 3 heartbeat intervals, or disconnected without NodeDrop
  bool dropped = false;  ///< left with NodeDrop
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
  /// Returns the session number of this connection (see on_disconnected).
  std::uint64_t on_registered(const protocol::NodeRegistration& reg, std::int64_t now_us);
  void on_status(NodeId id, protocol::NodeStatus status, std::int64_t now_us);
  void on_pot_status(const protocol::PotStatusUpdate& update, std::int64_t now_us);
  /// Any message: refreshes last-seen.
  void on_seen(NodeId id, std::int64_t now_us);
  void on_events(NodeId id, const std::string& pot_id, const std::string& pot_type, std::uint64_t count,
                 std::int64_t now_us);
  /// Ignored when `session` is not the node's latest (it re-registered on a
  /// new connection before the old one was seen closing).
  void on_disconnected(NodeId id, std::uint64_t session, bool dropped, std::int64_t now_us);

  // ---- reads (snapshots) ----
  std::vector<NodeView> nodes(std::int64_t now_us) const;
  std::optional<NodeView> node(NodeId id, std::int64_t now_us) const;
  bool is_connected(NodeId id) const;
  std::size_t connected_count() const;

  /// Several cores on one database: the nodes as the database has them
  /// (`records`) and which live core has each one's session (`presence`).
  /// Nodes with a session on this core are left as they are; the others
  /// take the database's record and show connected when another core has
  /// them. Nothing is marked for persisting (the other core writes them).
  void merge_remote(const std::vector<store::NodeRecord>& records,
                    const std::map<std::uint64_t, std::uint64_t>& presence, std::uint64_t this_core);
  /// Writes changed records to storage. Blocking: runs on the database
  /// pool. Registration, status and pot changes ask for it at once through
  /// the scheduler; last-seen refreshes wait for the periodic call (and exit).
  void persist_dirty();
  /// How a change asks for persist_dirty() to run soon (the core posts it
  /// to its database pool). Called at most once until persist_dirty() runs.
  void set_persist_scheduler(std::function<void()> schedule) { schedule_persist_ = std::move(schedule); }

 private:
  struct Entry {
    NodeView view;
    bool dirty = false;
    std::uint64_t session = 0;
  };
  void persist_locked(Entry& e);
  NodeView snapshot_locked(const Entry& e, std::int64_t now_us) const;

  store::Storage& storage_;
  std::chrono::milliseconds heartbeat_;
  mutable std::mutex mutex_;
  std::map<NodeId, Entry> nodes_;
  std::uint64_t next_session_ = 0;
  std::function<void()> schedule_persist_;
  std::atomic<bool> persist_scheduled_{false};
};

}  // namespace honeycomb::core
