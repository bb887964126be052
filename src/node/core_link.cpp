#include "node/core_link.hpp"

#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "common/log.hpp"
#include "events/normalize.hpp"
#include "node/ack_gate.hpp"
#include "node/credentials.hpp"
#include "protocol/codec.hpp"
#include "protocol/framer.hpp"
#include "security/join_token.hpp"
#include "security/pki.hpp"
#include "security/totp.hpp"
#include "spool/spool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <random>

namespace honeycomb::node {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

/// Records and bytes read from the spool per envelope batch.
constexpr std::size_t kBatchRecords = 1024;
constexpr std::size_t kBatchBytes = 1024 * 1024;
/// Bytes queued for the socket before the sender waits for the writer.
constexpr std::size_t kOutboxBytes = 4 * 1024 * 1024;
constexpr auto kNever = std::chrono::steady_clock::time_point::max();

/// TLS over the connection's socket (which the link keeps owning, so that
/// stop() can close it whatever runs on top).
using TlsStream = asio::ssl::stream<tcp::socket&>;
tcp::socket& lowest(tcp::socket& s) {
  return s;
}
tcp::socket& lowest(TlsStream& s) {
  return s.next_layer();
}

}  // namespace

struct CoreLink::Impl : std::enable_shared_from_this<CoreLink::Impl> {
  Impl(asio::io_context& io_context, const NodeConfig& cfg, std::uint64_t id, spool::Spool& sp, AckGate& acks_gate,
       std::uint16_t port, CommandHandler* handler)
      : io(io_context),
        config(cfg),
        node_id(id),
        spool(sp),
        gate(acks_gate),
        event_port(port),
        commands(handler),
        sender_wake(io_context, kNever),
        writer_wake(io_context, kNever),
        backoff_timer(io_context),
        log(log::get("node.link")),
        rng(std::random_device{}()),
        connect_log(static_cast<std::uint32_t>(std::max<std::size_t>(1, cfg.cores.size()))),
        credentials(cfg.tls_dir()) {}

  asio::awaitable<void> run();
  /// The core being tried or used.
  const CoreAddress& core() const { return config.cores[core_index]; }
  /// "host:port", and which of the list it is when there are several.
  std::string core_text() const {
    if (config.cores.size() == 1) {
      return core().text();
    }
    return fmt::format("{} ({} of {})", core().text(), core_index + 1, config.cores.size());
  }
  /// TLS handshake within the registration timeout; false (logged) on failure.
  asio::awaitable<bool> handshake(TlsStream& tls);
  /// Enrollment with the join token on a fresh connection; true when the
  /// node now has a certificate.
  asio::awaitable<bool> enroll(tcp::socket& socket);
  template <class Stream>
  asio::awaitable<bool> session(Stream& stream);
  template <class Stream>
  asio::awaitable<void> reader(Stream& stream, protocol::Framer& framer);
  template <class Stream>
  asio::awaitable<void> writer(Stream& stream);
  /// Asks the core for a new certificate when the current one is two
  /// thirds through its life (on a certificate-authenticated connection).
  void maybe_renew();
  asio::awaitable<void> sender();
  asio::awaitable<void> heartbeat();
  void on_message(protocol::Message&& message);
  /// Hands a command to the pot manager; its answers go to the core on
  /// this session (dropped when it ended meanwhile).
  void run_command(const protocol::Command& command);
  void queue(std::string envelope, std::uint64_t last_seq = 0) {
    outbox_bytes += envelope.size();
    outbox.push_back(Outgoing{std::move(envelope), last_seq});
    writer_wake.cancel();
  }

  struct Outgoing {
    std::string bytes;
    std::uint64_t last_seq = 0;  ///< the highest event seq in it (0: none)
  };

  asio::io_context& io;
  const NodeConfig& config;
  std::uint64_t node_id;
  spool::Spool& spool;
  AckGate& gate;  ///< the core's confirmations go here (the spool deletes what every consumer is done with)
  std::uint16_t event_port;
  CommandHandler* commands;
  asio::steady_timer sender_wake;  ///< cancelled: new events, an ack, outbox space
  asio::steady_timer writer_wake;  ///< cancelled: outbox not empty, or stopping
  asio::steady_timer backoff_timer;
  std::shared_ptr<spdlog::logger> log;
  std::mt19937_64 rng;
  LinkStats stats;
  std::atomic<bool> wake_posted{false};
  bool stopping = false;
  bool acks = false;  ///< this connection's core confirmed event_ack
  bool session_over = false;
  std::deque<Outgoing> outbox;
  std::size_t outbox_bytes = 0;
  std::uint64_t last_sent_seq = 0;    ///< highest seq handed to the outbox on this connection
  tcp::socket* current = nullptr;     ///< the registered connection (null: none)
  tcp::socket* socket_ptr = nullptr;  ///< the connection being set up or used
  std::function<void()> on_stopped;
  std::size_t core_index = 0;                        ///< in config.cores: the core being tried or used
  log::RateLimiter connect_log;                      ///< one warning a second per core
  std::int64_t warned_version = protocol::kVersion;  ///< the last mismatching version logged
  void check_version(std::int64_t version);
  // Authentication (docs/SECURITY.md)
  NodeCredentials credentials;
  bool tls_session = false;    ///< this connection is certificate-authenticated
  std::string renewal_key;     ///< the key of a renewal in flight ("" when none)
  bool renewal_asked = false;  ///< once per connection
  /// When to ask for a new certificate (Unix seconds), read once per
  /// connection: parsing the certificate at every heartbeat ran the X.509
  /// and EC code each time, and kept it resident in an idle node.
  std::int64_t renewal_at = 0;
};

void CoreLink::Impl::maybe_renew() {
  if (!tls_session || renewal_asked || unix_now_seconds() < renewal_at) {
    return;
  }
  auto request = security::make_node_key_and_csr(config.node_name);
  if (request.key_pem.empty()) {
    log->warn("cannot make a certificate request for the renewal");
    return;
  }
  renewal_asked = true;
  renewal_key = std::move(request.key_pem);
  log->info("asking the core for a new certificate (two thirds of the current one's lifetime are over)");
  queue(protocol::encode(protocol::Enroll{node_id, config.node_name, {}, std::move(request.csr_pem)}));
}

void CoreLink::Impl::check_version(std::int64_t version) {
  // The spec: log a mismatch, and the peer may be refused. The public Rust
  // core only warns too; we go on (the message decoded), once per version.
  if (version != protocol::kVersion && version != warned_version) {
    warned_version = version;
    log->warn("the core speaks protocol version {} (this node: {}); going on", version, protocol::kVersion);
  }
}

void CoreLink::Impl::run_command(const protocol::Command& command) {
  std::weak_ptr<Impl> weak = shared_from_this();
  commands->handle(command, [weak](protocol::Message reply) {
    if (auto self = weak.lock()) {
      asio::post(self->io, [self, reply = std::move(reply)]() {
        if (self->current != nullptr) {
          self->queue(protocol::encode(reply));
        }
      });
    }
  });
}

void CoreLink::Impl::on_message(protocol::Message&& message) {
  if (auto* ack = std::get_if<protocol::EventAck>(&message)) {
    if (!acks) {
      return;
    }
    gate.core_confirmed(std::min(ack->seq, last_sent_seq));
    sender_wake.cancel();
    return;
  }
  if (auto* command = std::get_if<protocol::NodeCommand>(&message)) {
    stats.commands.fetch_add(1, std::memory_order_relaxed);
    if (commands == nullptr) {
      queue(protocol::encode(protocol::NodeEvent{protocol::NodeEvent::Kind::error, "this node runs no pots"}));
      return;
    }
    run_command(command->command);
    return;
  }
  if (std::holds_alternative<protocol::RegistrationAck>(message)) {
    return;  // a repeated ack changes nothing
  }
  if (auto* renewed = std::get_if<protocol::EnrollAck>(&message)) {
    if (renewal_key.empty()) {
      return;
    }
    if (!renewed->accepted) {
      log->warn("the core refused to renew this node's certificate: {}", renewed->message.value_or("no reason given"));
    } else if (auto error = credentials.save(renewal_key, renewed->certificate, renewed->ca_certificate);
               !error.empty()) {
      log->error("cannot save the renewed certificate: {}", error);
    } else {
      log->info("certificate renewed ({}); the next connection uses it", credentials.certificate_serial());
    }
    renewal_key.clear();
    return;
  }
  log->debug("ignoring a {} message from the core", message.index());
}

template <class Stream>
asio::awaitable<void> CoreLink::Impl::reader(Stream& socket, protocol::Framer& framer) {
  std::vector<char> buffer(64 * 1024);
  const protocol::Framer::Sink sink{
      [this](boost::json::value&& v) {
        auto decoded = protocol::decode(std::move(v));
        if (auto* d = std::get_if<protocol::Decoded>(&decoded)) {
          check_version(d->version);
          on_message(std::move(d->message));
        } else {
          log->warn("core sent a message this node cannot read: {}", std::get<protocol::DecodeError>(decoded).reason);
        }
      },
      [this](std::string_view reason) { log->warn("core sent malformed data: {}", reason); },
  };
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (!stopping) {
        log->warn("connection to the core lost: {}", ec == asio::error::eof ? "closed by the core" : ec.message());
      }
      co_return;
    }
    framer.feed(std::string_view(buffer.data(), n), sink);
  }
}

template <class Stream>
asio::awaitable<void> CoreLink::Impl::writer(Stream& socket) {
  for (;;) {
    while (outbox.empty() && !stopping) {
      if (session_over) {
        co_return;
      }
      writer_wake.expires_at(kNever);
      co_await writer_wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (stopping) {
      // A voluntary disconnect: NodeDrop after the write in progress (never
      // inside it), then close. What was queued and not sent stays spooled.
      const auto drop = protocol::encode(protocol::NodeDrop{});
      asio::steady_timer deadline(io, std::chrono::seconds(1));
      co_await (asio::async_write(socket, asio::buffer(drop), asio::as_tuple(asio::use_awaitable)) ||
                deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
      boost::system::error_code ec;
      lowest(socket).shutdown(tcp::socket::shutdown_both, ec);
      co_return;
    }
    // Several queued envelopes in one write, except to a core that did not
    // confirm event_ack: the public Rust core reads each read() as exactly
    // one message and drops a node that sends two in one segment.
    const std::size_t max_per_write = acks ? 64 : 1;
    std::vector<asio::const_buffer> buffers;
    std::size_t count = 0;
    std::uint64_t last_seq = 0;
    for (auto& o : outbox) {
      buffers.emplace_back(asio::buffer(o.bytes));
      last_seq = std::max(last_seq, o.last_seq);
      if (++count == max_per_write) {
        break;
      }
    }
    auto [ec, n] = co_await asio::async_write(socket, buffers, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (!stopping) {
        log->warn("writing to the core failed: {}", ec.message());
      }
      co_return;
    }
    for (std::size_t i = 0; i < count; ++i) {
      outbox_bytes -= outbox.front().bytes.size();
      outbox.pop_front();
    }
    if (last_seq != 0 && !acks) {
      // A core without event_ack: written is all we will ever know.
      gate.core_confirmed(last_seq);
    }
    sender_wake.cancel();
  }
}

asio::awaitable<void> CoreLink::Impl::sender() {
  auto reader = spool.reader(gate.core_position() + 1);
  std::string batch;
  for (;;) {
    // The window is exact: a batch is cut to what is left of it, so a core
    // that dies holds at most max_unacked_events that the node will resend.
    const std::uint64_t confirmed = gate.core_position();
    const std::uint64_t unacked = acks && last_sent_seq > confirmed ? last_sent_seq - confirmed : 0;
    const std::uint64_t room = unacked < config.max_unacked_events ? config.max_unacked_events - unacked : 0;
    const bool window_full = acks && room == 0;
    const std::size_t batch_records =
        acks ? static_cast<std::size_t>(std::min<std::uint64_t>(kBatchRecords, room)) : kBatchRecords;
    // A core that did not confirm event_ack gets events only when the
    // configuration says so (the public Rust core has no PotEvent at all
    // and drops a node that sends one); otherwise they wait in the spool.
    const bool may_send = acks || config.forward_without_ack;
    std::vector<spool::Record> records;
    if (may_send && !window_full && outbox_bytes < kOutboxBytes && !stopping) {
      records = reader.read(batch_records, kBatchBytes);
    }
    if (records.empty()) {
      sender_wake.expires_at(kNever);
      co_await sender_wake.async_wait(asio::as_tuple(asio::use_awaitable));
      if (session_over) {
        co_return;
      }
      continue;
    }
    batch.clear();
    for (const auto& r : records) {
      append_pot_event(batch, node_id, r.seq, r.received_us, r.origin, r.line, acks);
    }
    last_sent_seq = records.back().seq;
    stats.events_sent.fetch_add(records.size(), std::memory_order_relaxed);
    queue(std::move(batch), last_sent_seq);
    batch = std::string();
  }
}

asio::awaitable<void> CoreLink::Impl::heartbeat() {
  asio::steady_timer timer(io);
  for (;;) {
    queue(protocol::encode(protocol::NodeStatusUpdate{node_id, protocol::NodeStatus::running}));
    maybe_renew();
    timer.expires_after(config.heartbeat);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      co_return;
    }
  }
}

/// One connection: register, then run until it breaks. True when the core
/// accepted the registration (the backoff starts over).
template <class Stream>
asio::awaitable<bool> CoreLink::Impl::session(Stream& socket) {
  protocol::NodeRegistration reg;
  reg.node_id = node_id;
  reg.node_name = config.node_name;
  if (auto key = credentials.totp_key()) {
    reg.totp_code = security::totp_code(*key, unix_now_seconds());
  }
  boost::system::error_code ec;
  const auto local = lowest(socket).local_endpoint(ec);
  reg.address = ec ? std::string() : local.address().to_string();
  reg.port = event_port;
  reg.node_type = protocol::NodeType::full;
  reg.extensions = {std::string(protocol::kEventAckExtension)};
  const auto text = protocol::encode(reg);
  auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(text), asio::as_tuple(asio::use_awaitable));
  if (wec) {
    log->warn("cannot register with the core: {}", wec.message());
    co_return false;
  }

  // Nothing else is sent until the ack (spec §2, sequence 1).
  protocol::Framer framer(64 * 1024 * 1024);
  std::optional<protocol::RegistrationAck> ack;
  std::vector<char> buffer(64 * 1024);
  asio::steady_timer deadline(io, config.registration_timeout);
  std::deque<protocol::Message> early;  // anything after the ack in the same read
  const protocol::Framer::Sink sink{
      [&](boost::json::value&& v) {
        auto decoded = protocol::decode(std::move(v));
        if (auto* d = std::get_if<protocol::Decoded>(&decoded)) {
          check_version(d->version);
          if (!ack) {
            if (auto* a = std::get_if<protocol::RegistrationAck>(&d->message)) {
              ack = *a;
            }
          } else {
            early.push_back(std::move(d->message));
          }
        }
      },
      [](std::string_view) {},
  };
  while (!ack) {
    auto got = co_await (socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable)) ||
                         deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (got.index() == 1) {
      log->warn("the core did not answer the registration within {} s", config.registration_timeout.count() / 1000);
      co_return false;
    }
    auto [rec, n] = std::get<0>(got);
    if (rec) {
      log->warn("the core closed the connection before accepting the registration: {}", rec.message());
      co_return false;
    }
    framer.feed(std::string_view(buffer.data(), n), sink);
  }
  if (!ack->accepted) {
    log->error("the core refused this node ({}): {}", node_id, ack->message.value_or("no reason given"));
    co_return false;
  }
  if (ack->totp_key && !ack->totp_key->empty()) {
    if (auto error = credentials.save_totp_key(*ack->totp_key); !error.empty()) {
      log->error("cannot keep the TOTP secret the core sent: {}", error);
    } else {
      log->info("the core handed out a TOTP secret; kept in {}", credentials.totp_file().string());
    }
  }
  acks =
      std::find(ack->extensions.begin(), ack->extensions.end(), protocol::kEventAckExtension) != ack->extensions.end();
  stats.core_acks = acks;
  stats.core_number = core_index + 1;
  stats.connected = true;
  const auto first = stats.registrations.fetch_add(1) == 0;
  if (acks) {
    log->info("connected to the core {}, registered as node {}", core_text(), node_id);
  } else if (config.forward_without_ack) {
    log->warn(
        "connected to the core {}, registered as node {}; this core does not confirm stored events (no "
        "event_ack): events leave the spool once sent, and those in flight when the core fails are lost",
        core_text(), node_id);
  } else {
    log->warn(
        "connected to the core {}, registered as node {}; this core does not confirm stored events (no "
        "event_ack), so events stay in the spool (forward_without_ack: false); status and commands work",
        core_text(), node_id);
  }
  outbox.clear();
  outbox_bytes = 0;
  last_sent_seq = gate.core_position();
  session_over = false;
  current = &lowest(socket);
  renewal_asked = false;
  renewal_key.clear();
  renewal_at = tls_session ? credentials.renewal_time() : 0;
  if (first && acks) {
    // Not to a public core: right after the status, two messages could
    // reach its one read() together.
    queue(protocol::encode(protocol::NodeEvent{protocol::NodeEvent::Kind::started, {}}));
  }
  if (acks && commands != nullptr) {
    // The core learns of pots from their status changes; pots that started
    // or changed while no session was up would stay unknown to it until
    // their next change. (Our core only, as above.)
    protocol::Command list;
    list.kind = protocol::Command::Kind::get_installed_pots;
    run_command(list);
  }
  for (auto& m : early) {
    on_message(std::move(m));
  }
  co_await (reader(socket, framer) || writer(socket) || sender() || heartbeat());
  session_over = true;
  current = nullptr;
  stats.connected = false;
  stats.core_number = 0;
  co_return true;
}

asio::awaitable<void> CoreLink::Impl::run() {
  auto self = shared_from_this();
  auto backoff = config.reconnect_min;
  std::size_t failed_in_round = 0;  // cores tried in a row without a registration
  while (!stopping) {
    tcp::resolver resolver(io);
    auto [rec, results] = co_await resolver.async_resolve(core().address, std::to_string(core().port),
                                                          asio::as_tuple(asio::use_awaitable));
    bool accepted = false;
    if (!rec) {
      tcp::socket socket(io);
      socket_ptr = &socket;
      auto [cec, endpoint] = co_await asio::async_connect(socket, results, asio::as_tuple(asio::use_awaitable));
      if (!cec && !stopping) {
        socket.set_option(tcp::no_delay(true), cec);
        current = nullptr;
        tls_session = false;
        if (!credentials.enrolled() && !config.join_token.empty()) {
          // Enrolled now: connect again at once, with the certificate, to
          // the same core.
          if (co_await enroll(socket)) {
            boost::system::error_code ignored;
            socket.close(ignored);
            socket_ptr = nullptr;
            continue;
          }
        } else if (credentials.enrolled()) {
          std::string error;
          auto tls_context = credentials.client_tls(error);
          if (!tls_context) {
            log->error("the node's certificate cannot be used: {}", error);
          } else {
            TlsStream tls(socket, *tls_context);
            if (co_await handshake(tls)) {
              tls_session = true;
              accepted = co_await session(tls);
            }
          }
        } else {
          accepted = co_await session(socket);
        }
      } else {
        rec = cec;
      }
      boost::system::error_code ignored;
      socket.close(ignored);
      socket_ptr = nullptr;
    }
    if (stopping) {
      break;
    }
    stats.connect_failures.fetch_add(accepted ? 0 : 1, std::memory_order_relaxed);
    if (rec) {
      std::uint64_t suppressed = 0;
      if (connect_log.allow(suppressed)) {
        log->warn("cannot reach the core at {}: {} (events stay in the spool; retrying)", core_text(), rec.message());
      }
    }
    // Whether this core failed or its connection dropped, the next attempt
    // goes to the next one: a core that is going down is not waited for.
    core_index = (core_index + 1) % config.cores.size();
    if (accepted) {
      backoff = config.reconnect_min;
      failed_in_round = 0;
    } else if (++failed_in_round < config.cores.size()) {
      continue;  // the backoff is per round: the other cores are tried at once
    } else {
      failed_in_round = 0;
    }
    // Exponential backoff with full jitter: thousands of nodes that lost
    // the same core do not come back in step.
    std::uniform_int_distribution<std::int64_t> jitter(backoff.count() / 2, backoff.count());
    backoff_timer.expires_after(std::chrono::milliseconds(jitter(rng)));
    co_await backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(config.reconnect_max, backoff * 2);
  }
  if (on_stopped) {
    on_stopped();
  }
}

asio::awaitable<bool> CoreLink::Impl::handshake(TlsStream& tls) {
  asio::steady_timer deadline(io, config.registration_timeout);
  auto done = co_await (tls.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
                        deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (done.index() == 1) {
    log->warn("TLS handshake with the core timed out");
    co_return false;
  }
  auto [ec] = std::get<0>(done);
  if (ec) {
    if (!stopping) {
      log->warn("TLS handshake with the core {} failed: {}", core_text(), ec.message());
    }
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> CoreLink::Impl::enroll(tcp::socket& socket) {
  const auto token = security::parse_join_token(config.join_token);
  if (!token) {
    log->error("join_token is not a join token");
    co_return false;
  }
  // No trust anchor yet: the handshake accepts any certificate, then the
  // chain must contain the CA the token pins, and the core's certificate
  // must verify against it, before a byte of the token is sent.
  asio::ssl::context context(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_3_VERSION);
  context.set_verify_mode(asio::ssl::verify_none);
  TlsStream tls(socket, context);
  if (!co_await handshake(tls)) {
    co_return false;
  }
  if (auto error = security::verify_pinned_server(tls.native_handle(), token->ca_fingerprint); !error.empty()) {
    log->error("not enrolling: the core at {} is not the one the join token is for: {}", core_text(), error);
    co_return false;
  }
  auto request = security::make_node_key_and_csr(config.node_name);
  const auto text = protocol::encode(protocol::Enroll{node_id, config.node_name, token->secret, request.csr_pem});
  auto [wec, wn] = co_await asio::async_write(tls, asio::buffer(text), asio::as_tuple(asio::use_awaitable));
  if (wec) {
    log->warn("cannot enroll with the core: {}", wec.message());
    co_return false;
  }
  protocol::Framer framer(1024 * 1024);
  std::optional<protocol::EnrollAck> ack;
  std::vector<char> buffer(16 * 1024);
  asio::steady_timer deadline(io, config.registration_timeout);
  const protocol::Framer::Sink sink{
      [&](boost::json::value&& v) {
        auto decoded = protocol::decode(std::move(v));
        if (auto* d = std::get_if<protocol::Decoded>(&decoded)) {
          if (auto* a = std::get_if<protocol::EnrollAck>(&d->message); a != nullptr && !ack) {
            ack = std::move(*a);
          }
        }
      },
      [](std::string_view) {},
  };
  while (!ack) {
    auto got = co_await (tls.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable)) ||
                         deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (got.index() == 1) {
      log->warn("the core did not answer the enrollment within {} s", config.registration_timeout.count() / 1000);
      co_return false;
    }
    auto [rec, n] = std::get<0>(got);
    if (rec) {
      log->warn("the core closed the connection before answering the enrollment: {}", rec.message());
      co_return false;
    }
    framer.feed(std::string_view(buffer.data(), n), sink);
  }
  if (!ack->accepted) {
    log->error("the core refused to enroll this node ({}): {}", node_id, ack->message.value_or("no reason given"));
    co_return false;
  }
  if (auto error = credentials.save(request.key_pem, ack->certificate, ack->ca_certificate); !error.empty()) {
    log->error("cannot save the node's certificate: {}", error);
    co_return false;
  }
  log->info("enrolled with the core {}: certificate {} kept in {}", core_text(), credentials.certificate_serial(),
            credentials.certificate_file().parent_path().string());
  co_return true;
}

CoreLink::CoreLink(asio::io_context& io, const NodeConfig& config, std::uint64_t node_id, spool::Spool& spool,
                   AckGate& gate, std::uint16_t event_port, CommandHandler* commands)
    : impl_(std::make_shared<Impl>(io, config, node_id, spool, gate, event_port, commands)) {}

CoreLink::~CoreLink() = default;

void CoreLink::start() {
  asio::co_spawn(impl_->io, impl_->run(), asio::detached);
}

void CoreLink::wake() {
  if (impl_->wake_posted.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  asio::post(impl_->io, [impl = impl_]() {
    impl->wake_posted.store(false, std::memory_order_release);
    impl->sender_wake.cancel();
  });
}

void CoreLink::send(protocol::Message message) {
  asio::post(impl_->io, [impl = impl_, message = std::move(message)]() {
    if (impl->current != nullptr) {
      impl->queue(protocol::encode(message));
    }
  });
}

void CoreLink::stop(std::function<void()> done) {
  asio::post(impl_->io, [impl = impl_, done = std::move(done)]() mutable {
    impl->stopping = true;
    impl->on_stopped = std::move(done);
    impl->backoff_timer.cancel();
    if (impl->current != nullptr) {
      impl->writer_wake.cancel();  // the writer sends NodeDrop and ends the session
      return;
    }
    if (impl->socket_ptr != nullptr) {
      // Connecting or registering: closing the socket ends that at once.
      boost::system::error_code ec;
      impl->socket_ptr->close(ec);
    }
  });
}

const LinkStats& CoreLink::stats() const {
  return impl_->stats;
}

std::string CoreLink::connected_core() const {
  // config.cores never changes; the number is the only thing shared.
  const auto number = impl_->stats.core_number.load();
  return number == 0 ? std::string() : impl_->config.cores[number - 1].text();
}

}  // namespace honeycomb::node
