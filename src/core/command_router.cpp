#include "core/command_router.hpp"

#include "core/metrics.hpp"
#include "protocol/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace honeycomb::core {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using protocol::Command;

namespace {

/// GetInstalledPots is answered by one PotStatusUpdate per pot and no end
/// marker: the answer is complete once the node has been quiet this long.
constexpr std::chrono::milliseconds kListQuiet{400};

boost::json::value to_json(const protocol::Message& m) {
  // The reply as its Protocol v2 message JSON (the envelope's "message").
  auto text = protocol::encode(m);
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    return nullptr;
  }
  return v.as_object()["message"];
}

}  // namespace

namespace {

/// Commands answered with a PotStatusUpdate whose `message` is a JSON
/// object (docs/POTS.md). Protocol v2 has no request ids: this tells the
/// answer from a status change of the same pot sent at the same time.
bool carries_a_document(Command::Kind k) {
  return k == Command::Kind::get_pot_info || k == Command::Kind::get_pot_logs || k == Command::Kind::get_pot_metrics;
}

}  // namespace

struct CommandRouter::Pending {
  using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code, boost::json::value)>;
  Pending(const asio::any_io_executor& ex, Command c) : channel(ex, 64), command(std::move(c)) {}
  Channel channel;
  Command command;
  std::string pot_id() const { return command.install ? command.install->pot_id : command.pot_id; }
  /// True when `m` answers this command.
  bool matches(const protocol::Message& m) const {
    if (const auto* p = std::get_if<protocol::PotStatusUpdate>(&m)) {
      if (carries_a_document(command.kind) && (!p->message || !p->message->starts_with('{'))) {
        // A status change the node sent on its own (a crash, a restart)
        // while this command was on its way: not the answer.
        return false;
      }
      return command.kind == Command::Kind::get_installed_pots ||
             (protocol::command_takes_pot_id(command.kind) || command.kind == Command::Kind::install_pot
                  ? p->pot_id == pot_id()
                  : false);
    }
    if (const auto* e = std::get_if<protocol::NodeEvent>(&m)) {
      // An Error answers any command (unknown or failed); Started/Stopped
      // answer the node-level ones.
      return e->kind == protocol::NodeEvent::Kind::error || command.kind == Command::Kind::restart ||
             command.kind == Command::Kind::update_config;
    }
    if (std::holds_alternative<protocol::NodeStatusUpdate>(m)) {
      // Our node ends a GetInstalledPots listing with its status, so that an
      // empty or complete list needs no quiet period.
      return command.kind == Command::Kind::restart || command.kind == Command::Kind::update_config ||
             command.kind == Command::Kind::get_installed_pots;
    }
    return false;
  }
};

std::uint64_t CommandRouter::attach(protocol::NodeId id, SendFn send) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    auto& s = sessions_[id];
    s.send = std::move(send);
    s.generation = ++next_generation_;
    generation = s.generation;
  }
  if (presence_) {
    presence_(id, true);
  }
  return generation;
}

void CommandRouter::detach(protocol::NodeId id, std::uint64_t generation) {
  bool detached = false;
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(id);
    if (it != sessions_.end() && it->second.generation == generation) {
      sessions_.erase(it);
      detached = true;
    }
  }
  if (detached && presence_) {
    presence_(id, false);
  }
}

asio::awaitable<CommandResult> CommandRouter::execute(protocol::NodeId id, Command command, bool known,
                                                      std::chrono::milliseconds timeout, bool local_only) {
  bool here = false;
  {
    std::lock_guard lock(mutex_);
    here = sessions_.contains(id);
  }
  if (remote_ && !local_only && !here) {
    std::optional<CommandResult> remote = co_await remote_(id, command, timeout);
    if (remote) {
      co_return std::move(*remote);
    }
  }
  co_return co_await execute_here(id, std::move(command), known, timeout);
}

asio::awaitable<CommandResult> CommandRouter::execute_here(protocol::NodeId id, Command command, bool known,
                                                           std::chrono::milliseconds timeout) {
  CommandResult result;
  auto ex = co_await asio::this_coro::executor;
  auto pending = std::make_shared<Pending>(ex, command);
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      result.outcome = known ? CommandResult::Outcome::offline : CommandResult::Outcome::unknown_node;
      result.error = known ? fmt::format("node {} is not connected", id) : fmt::format("no node with id {}", id);
      co_return result;
    }
    pending_.emplace(id, pending);
    // Queued on the session's writer at once: commands never wait behind
    // events or anything else the node is doing.
    it->second.send(protocol::encode(protocol::NodeCommand{id, command}));
  }
  metrics_.commands_sent_total.fetch_add(1, std::memory_order_relaxed);

  const bool collect_all = command.kind == Command::Kind::get_installed_pots;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(ex);
  for (;;) {
    auto until = deadline;
    if (collect_all && !result.replies.empty()) {
      until = std::min(deadline, std::chrono::steady_clock::now() + kListQuiet);
    }
    timer.expires_at(until);
    auto got = co_await (pending->channel.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                         timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (got.index() == 1) {
      break;  // timer: deadline or quiet period over
    }
    auto [ec, reply] = std::get<0>(std::move(got));
    if (ec) {
      break;
    }
    if (collect_all && reply.is_object() && reply.as_object().contains("NodeStatusUpdate")) {
      result.listing_complete = true;
      break;
    }
    result.replies.push_back(std::move(reply));
    if (!collect_all) {
      break;
    }
  }
  {
    std::lock_guard lock(mutex_);
    for (auto it = pending_.lower_bound(id); it != pending_.end() && it->first == id; ++it) {
      if (it->second == pending) {
        pending_.erase(it);
        break;
      }
    }
  }
  if (result.replies.empty() && !result.listing_complete) {
    metrics_.commands_timed_out_total.fetch_add(1, std::memory_order_relaxed);
    result.outcome = CommandResult::Outcome::timeout;
    result.error =
        fmt::format("node {} did not answer {} within {} ms", id, protocol::to_string(command.kind), timeout.count());
  } else {
    result.outcome = CommandResult::Outcome::answered;
  }
  co_return result;
}

void CommandRouter::on_reply(protocol::NodeId id, const protocol::Message& message) {
  std::lock_guard lock(mutex_);
  auto range = pending_.equal_range(id);
  if (range.first == range.second) {
    return;
  }
  boost::json::value json;
  bool rendered = false;
  for (auto it = range.first; it != range.second; ++it) {
    auto& p = *it->second;
    if (!p.matches(message)) {
      continue;
    }
    if (!rendered) {
      json = to_json(message);
      rendered = true;
    }
    p.channel.try_send(boost::system::error_code{}, json);
    // One answer goes to the oldest waiting command it matches, except a
    // pot status, which also completes a GetInstalledPots listing.
    if (p.command.kind != Command::Kind::get_installed_pots) {
      break;
    }
  }
}

}  // namespace honeycomb::core
