#include "core/registry.hpp"

namespace honeycomb::core {

namespace {
constexpr const char* kUnknown = "Unknown";
}

std::string NodeView::state() const {
  if (lost) {
    return "Lost";
  }
  if (!connected) {
    return "Offline";
  }
  return record.status.empty() ? kUnknown : record.status;
}

Registry::Registry(store::Storage& storage, std::chrono::milliseconds heartbeat)
    : storage_(storage), heartbeat_(heartbeat) {}

void Registry::load() {
  auto records = storage_.load_nodes();
  std::lock_guard lock(mutex_);
  for (auto& r : records) {
    Entry e;
    e.view.record = std::move(r);
    // A core restart cannot know whether the node left cleanly: it is
    // offline until it reconnects (state() says so), not lost.
    nodes_[e.view.record.node_id] = std::move(e);
  }
}

std::uint64_t Registry::on_registered(const protocol::NodeRegistration& reg, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = nodes_.try_emplace(reg.node_id);
  auto& v = it->second.view;
  if (inserted) {
    v.record.node_id = reg.node_id;
    v.record.first_seen_us = now_us;
  }
  v.record.name = reg.node_name;
  v.record.address = reg.address;
  v.record.port = reg.port;
  v.record.node_type = protocol::to_string(reg.node_type);
  // The protocol: Unknown until the node's first status in this session.
  v.record.status = kUnknown;
  v.record.last_seen_us = now_us;
  v.connected = true;
  v.core_id = 0;  // here now, whichever core had it before
  v.lost = false;
  v.dropped = false;
  v.connected_since_us = now_us;
  it->second.session = ++next_session_;
  persist_locked(it->second);
  return it->second.session;
}

void Registry::on_status(NodeId id, protocol::NodeStatus status, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    return;
  }
  auto& v = it->second.view;
  v.record.last_seen_us = now_us;
  const std::string text = protocol::to_string(status);
  if (v.record.status != text) {
    v.record.status = text;
    persist_locked(it->second);
  } else {
    it->second.dirty = true;
  }
}

void Registry::on_pot_status(const protocol::PotStatusUpdate& update, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(update.node_id);
  if (it == nodes_.end()) {
    return;
  }
  auto& v = it->second.view;
  v.record.last_seen_us = now_us;
  store::PotRecord* pot = nullptr;
  for (auto& p : v.record.pots) {
    if (p.pot_id == update.pot_id) {
      pot = &p;
      break;
    }
  }
  if (pot == nullptr) {
    pot = &v.record.pots.emplace_back();
    pot->pot_id = update.pot_id;
  }
  if (!update.pot_type.empty()) {
    pot->pot_type = update.pot_type;
  }
  pot->status = protocol::to_string(update.status);
  if (update.message) {
    pot->message = *update.message;
  }
  pot->updated_us = now_us;
  persist_locked(it->second);
}

void Registry::on_seen(NodeId id, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it != nodes_.end()) {
    it->second.view.record.last_seen_us = now_us;
    it->second.dirty = true;
  }
}

void Registry::on_events(NodeId id, const std::string& pot_id, const std::string& pot_type, std::uint64_t count,
                         std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    return;
  }
  auto& v = it->second.view;
  v.events_received += count;
  v.record.last_seen_us = now_us;
  it->second.dirty = true;
  if (pot_id.empty()) {
    return;
  }
  for (auto& p : v.record.pots) {
    if (p.pot_id == pot_id) {
      if (p.pot_type.empty() && !pot_type.empty()) {
        p.pot_type = pot_type;
      }
      p.updated_us = now_us;
      return;
    }
  }
  // A pot the node never reported a status for (the Go node, third-party
  // honeypots): show it, with its status unknown.
  auto& p = v.record.pots.emplace_back();
  p.pot_id = pot_id;
  p.pot_type = pot_type;
  p.status = kUnknown;
  p.updated_us = now_us;
}

void Registry::on_disconnected(NodeId id, std::uint64_t session, bool dropped, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  // A stale session: the node has registered again on a new connection.
  if (it == nodes_.end() || it->second.session != session) {
    return;
  }
  auto& v = it->second.view;
  v.connected = false;
  v.dropped = dropped;
  v.lost = !dropped;
  if (dropped) {
    v.record.last_seen_us = now_us;
  }
  persist_locked(it->second);
}

NodeView Registry::snapshot_locked(const Entry& e, std::int64_t now_us) const {
  NodeView v = e.view;
  const auto silent_us = now_us - v.record.last_seen_us;
  const auto lost_after_us = 3 * std::chrono::duration_cast<std::chrono::microseconds>(heartbeat_).count();
  if (v.connected && silent_us > lost_after_us) {
    v.lost = true;
  }
  return v;
}

std::vector<NodeView> Registry::nodes(std::int64_t now_us) const {
  std::lock_guard lock(mutex_);
  std::vector<NodeView> out;
  out.reserve(nodes_.size());
  for (const auto& [id, e] : nodes_) {
    out.push_back(snapshot_locked(e, now_us));
  }
  return out;
}

std::optional<NodeView> Registry::node(NodeId id, std::int64_t now_us) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    return std::nullopt;
  }
  return snapshot_locked(it->second, now_us);
}

bool Registry::is_connected(NodeId id) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second.view.connected;
}

std::size_t Registry::connected_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, e] : nodes_) {
    n += e.view.connected && e.view.core_id == 0 ? 1 : 0;  // sessions on this core
  }
  return n;
}

void Registry::merge_remote(const std::vector<store::NodeRecord>& records,
                            const std::map<std::uint64_t, std::uint64_t>& presence, std::uint64_t this_core) {
  std::lock_guard lock(mutex_);
  for (const auto& record : records) {
    auto& e = nodes_[record.node_id];
    if (e.view.connected && e.view.core_id == 0) {
      continue;  // its session is here: this core's view is the newest
    }
    e.view.record = record;
    const auto at = presence.find(record.node_id);
    const bool elsewhere = at != presence.end() && at->second != this_core;
    e.view.connected = elsewhere;
    e.view.core_id = elsewhere ? at->second : 0;
    e.view.lost = false;
  }
}

void Registry::persist_locked(Entry& e) {
  // Never write here: callers are node sessions on I/O threads. Mark the
  // record and let the scheduler run persist_dirty() on the database pool.
  e.dirty = true;
  if (schedule_persist_ && !persist_scheduled_.exchange(true)) {
    schedule_persist_();
  }
}

void Registry::persist_dirty() {
  persist_scheduled_ = false;
  std::vector<store::NodeRecord> dirty;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, e] : nodes_) {
      if (e.dirty) {
        dirty.push_back(e.view.record);
        e.dirty = false;
      }
    }
  }
  for (const auto& r : dirty) {
    storage_.save_node(r);
  }
}

}  // namespace honeycomb::core
