// See cluster.hpp.
#include "core/cluster.hpp"

#include "core/api/blocking.hpp"
#include "core/event_json.hpp"
#include "protocol/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <random>

namespace honeycomb::core {

namespace asio = boost::asio;
namespace json = boost::json;
using api::run_blocking;

namespace {

/// How often a core looks for commands without a notification (one missed
/// while its listener reconnected) and refreshes the other cores' nodes.
constexpr auto kCommandPoll = std::chrono::milliseconds(250);
constexpr auto kRegistryRefresh = std::chrono::seconds(2);
/// How often a core asks for the answer of a command it sent elsewhere.
constexpr auto kAnswerPoll = std::chrono::milliseconds(20);
/// What the other core may add to a command's own timeout (its queue,
/// the database round trips).
constexpr auto kRemoteSlack = std::chrono::seconds(2);

const char* outcome_name(CommandResult::Outcome o) {
  switch (o) {
    case CommandResult::Outcome::answered:
      return "answered";
    case CommandResult::Outcome::timeout:
      return "timeout";
    case CommandResult::Outcome::unknown_node:
      return "unknown_node";
    case CommandResult::Outcome::offline:
      return "offline";
  }
  return "timeout";
}

std::uint64_t new_core_id() {
  std::random_device random;
  std::uint64_t id = 0;
  while (id == 0) {
    id = ((static_cast<std::uint64_t>(random()) << 32) | random()) >> 1;  // positive as a bigint
  }
  return id;
}

}  // namespace

Cluster::Cluster(ClusterContext context)
    : ctx_(context),
      strand_(asio::make_strand(context.io)),
      presence_strand_(asio::make_strand(context.db_pool)),
      wake_(strand_),
      refresh_(strand_) {}

Cluster::~Cluster() {
  if (core_id_ != 0) {
    ctx_.storage.leave_cluster();
  }
}

bool Cluster::start() {
  if (!ctx_.storage.shared()) {
    return false;
  }
  core_id_ = new_core_id();
  // The storage, not `this`: a session closing at shutdown may post after
  // the cluster is gone (the storage outlives the database pool).
  ctx_.router.set_presence_hook([this](protocol::NodeId id, bool connected) {
    asio::post(presence_strand_,
               [&storage = ctx_.storage, id, connected]() { storage.set_node_presence(id, connected); });
  });
  ctx_.router.set_remote_executor(
      [this](protocol::NodeId id, protocol::Command command, std::chrono::milliseconds timeout) {
        return execute_remote(id, std::move(command), timeout);
      });
  store::ClusterHandlers handlers;
  handlers.remote_events = [this](std::vector<store::StoredEvent> events) { publish_remote(events); };
  handlers.commands_waiting = [this]() { asio::post(strand_, [this]() { wake_.cancel(); }); };
  ctx_.storage.join_cluster(core_id_, std::move(handlers));
  asio::co_spawn(strand_, serve_commands(), asio::detached);
  asio::co_spawn(strand_, refresh_registry(), asio::detached);
  ctx_.log.info("cluster: this core is {} on a shared database", core_id_);
  return true;
}

void Cluster::stop() {
  stopping_ = true;
  asio::post(strand_, [this]() {
    wake_.cancel();
    refresh_.cancel();
  });
}

// ---- commands for this core's nodes ----

asio::awaitable<void> Cluster::serve_commands() {
  while (!stopping_) {
    wake_.expires_after(kCommandPoll);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) {
      break;
    }
    auto take = [&storage = ctx_.storage]() { return storage.take_commands(); };
    auto commands = co_await run_blocking(ctx_.db_pool, std::move(take));
    for (auto& command : commands) {
      asio::co_spawn(strand_, run_command(std::move(command)), asio::detached);
    }
  }
}

asio::awaitable<void> Cluster::run_command(store::RemoteCommand command) {
  CommandResult result;
  boost::system::error_code ec;
  auto parsed = json::parse(command.envelope, ec);
  std::optional<protocol::NodeCommand> node_command;
  if (!ec) {
    auto decoded = protocol::decode(std::move(parsed));
    if (auto* d = std::get_if<protocol::Decoded>(&decoded)) {
      if (auto* c = std::get_if<protocol::NodeCommand>(&d->message)) {
        node_command = std::move(*c);
      }
    }
  }
  if (!node_command || node_command->node_id != command.node_id) {
    result.outcome = CommandResult::Outcome::timeout;
    result.error = "the command could not be read on the core that has the node";
  } else {
    // Here only: the node may have left this core meanwhile, and a command
    // must not bounce between cores.
    result = co_await ctx_.router.execute(command.node_id, node_command->command, /*known=*/true,
                                          std::chrono::milliseconds(std::max<std::int64_t>(command.timeout_ms, 1)),
                                          /*local_only=*/true);
  }
  auto answer = [&storage = ctx_.storage, id = command.id, text = encode_result(result)]() {
    storage.answer_command(id, text);
    return true;
  };
  co_await run_blocking(ctx_.db_pool, std::move(answer));
}

// ---- commands for nodes on other cores ----

asio::awaitable<std::optional<CommandResult>> Cluster::execute_remote(protocol::NodeId id, protocol::Command command,
                                                                      std::chrono::milliseconds timeout) {
  auto lookup = [&storage = ctx_.storage]() { return storage.node_presence(); };
  const auto presence = co_await run_blocking(ctx_.db_pool, std::move(lookup));
  const auto at = presence.find(id);
  if (at == presence.end() || at->second == core_id_) {
    co_return std::nullopt;  // no core has it: offline (or unknown)
  }
  const auto core = at->second;
  auto send = [&storage = ctx_.storage, core, id, envelope = protocol::encode(protocol::NodeCommand{id, command}),
               ms = static_cast<std::int64_t>(timeout.count())]() {
    return storage.send_command(core, id, envelope, ms);
  };
  const auto command_id = co_await run_blocking(ctx_.db_pool, std::move(send));
  CommandResult result;
  if (command_id == 0) {
    result.outcome = CommandResult::Outcome::offline;
    result.error = fmt::format("node {} is on core {}, and the command could not be queued for it", id, core);
    co_return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout + kRemoteSlack;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(kAnswerPoll);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    auto poll = [&storage = ctx_.storage, command_id]() { return storage.command_answer(command_id); };
    if (auto answer = co_await run_blocking(ctx_.db_pool, std::move(poll))) {
      if (auto decoded = decode_result(*answer)) {
        co_return std::move(*decoded);
      }
      break;
    }
  }
  result.outcome = CommandResult::Outcome::timeout;
  result.error = fmt::format("node {} (on core {}) did not answer {} within {} ms", id, core,
                             protocol::to_string(command.kind), timeout.count());
  co_return result;
}

// ---- the other cores' nodes and events ----

asio::awaitable<void> Cluster::refresh_registry() {
  while (!stopping_) {
    auto read = [&storage = ctx_.storage]() { return std::make_pair(storage.load_nodes(), storage.node_presence()); };
    auto [records, presence] = co_await run_blocking(ctx_.db_pool, std::move(read));
    ctx_.registry.merge_remote(records, presence, core_id_);
    refresh_.expires_after(kRegistryRefresh);
    co_await refresh_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Cluster::publish_remote(const std::vector<store::StoredEvent>& events) {
  if (!ctx_.hub.has_subscribers()) {
    return;
  }
  for (const auto& stored : events) {
    const auto& e = stored.event;
    std::string body;
    append_event_json(body, e, stored.id);
    auto item = std::make_shared<StreamItem>();
    item->kind = StreamItem::Kind::event;
    item->node_id = e.node_id;
    item->pot_id = e.pot_id;
    item->pot_type = e.pot_type;
    item->event_type = e.event_type;
    item->src_ip = e.src_ip;
    item->json = fmt::format(R"({{"type":"event","node_id":{},"data":{}}})", e.node_id, body);
    ctx_.hub.publish(std::move(item));
  }
}

// ---- results across the database ----

std::string Cluster::encode_result(const CommandResult& result) {
  json::array replies(result.replies.begin(), result.replies.end());
  return json::serialize(json::object{{"outcome", outcome_name(result.outcome)},
                                      {"replies", std::move(replies)},
                                      {"error", result.error},
                                      {"listing_complete", result.listing_complete}});
}

std::optional<CommandResult> Cluster::decode_result(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  const auto& o = v.as_object();
  CommandResult r;
  const auto* outcome = o.if_contains("outcome");
  const std::string name = outcome != nullptr && outcome->is_string() ? std::string(outcome->as_string()) : "";
  if (name == "answered") {
    r.outcome = CommandResult::Outcome::answered;
  } else if (name == "unknown_node") {
    r.outcome = CommandResult::Outcome::unknown_node;
  } else if (name == "offline") {
    r.outcome = CommandResult::Outcome::offline;
  } else {
    r.outcome = CommandResult::Outcome::timeout;
  }
  if (const auto* replies = o.if_contains("replies"); replies != nullptr && replies->is_array()) {
    r.replies.assign(replies->as_array().begin(), replies->as_array().end());
  }
  if (const auto* error = o.if_contains("error"); error != nullptr && error->is_string()) {
    r.error = std::string(error->as_string());
  }
  if (const auto* done = o.if_contains("listing_complete"); done != nullptr && done->is_bool()) {
    r.listing_complete = done->as_bool();
  }
  return r;
}

}  // namespace honeycomb::core
