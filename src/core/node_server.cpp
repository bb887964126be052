#include "core/node_server.hpp"

#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "common/listen_socket.hpp"
#include "common/log.hpp"
#include "core/api/blocking.hpp"
#include "core/command_router.hpp"
#include "core/event_json.hpp"
#include "core/metrics.hpp"
#include "core/node_auth.hpp"
#include "core/pot_event_reader.hpp"
#include "core/registry.hpp"
#include "core/stream_hub.hpp"
#include "events/normalize.hpp"
#include "protocol/codec.hpp"
#include "protocol/framer.hpp"
#include "store/storage.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>

namespace honeycomb::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using protocol::NodeId;

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

/// Outbound messages queued per session (acks, commands). A node that does
/// not read them is disconnected rather than buffered without bound.
constexpr std::size_t kOutboundQueue = 1024;
/// How long a refused or freshly enrolled peer may take to read its answer
/// before the connection is closed.
constexpr auto kClosingGrace = std::chrono::seconds(5);
/// Read buffer per session: small for the many idle nodes (10,000 idle
/// nodes held 625 MB with a fixed 64 KiB), doubled whenever a read fills
/// it, up to the size that keeps a busy node's reads large.
constexpr std::size_t kReadBufferMin = 4 * 1024;
constexpr std::size_t kReadBufferMax = 64 * 1024;

}  // namespace

/// What the server needs to know of a session of either stream type.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
  /// The serial of the client certificate the session was authenticated
  /// by; empty without one. Set once, before the session reads anything.
  virtual std::string certificate_serial() const = 0;
};

struct NodeServer::Impl : std::enable_shared_from_this<NodeServer::Impl> {
  Impl(asio::io_context& io_, NodeServerContext c, std::shared_ptr<asio::ssl::context> t)
      : io(io_), ctx(c), tls(std::move(t)), acceptor(io_), log(log::get("core.nodes")) {}

  asio::io_context& io;
  NodeServerContext ctx;
  std::shared_ptr<asio::ssl::context> tls;
  tcp::acceptor acceptor;
  std::shared_ptr<spdlog::logger> log;
  log::RateLimiter malformed_log{5};
  log::RateLimiter refused_log{2};

  std::mutex mutex;
  std::uint64_t next_serial = 0;
  std::map<std::uint64_t, std::weak_ptr<SessionBase>> live;
  std::map<NodeId, std::uint64_t> owner;  ///< node id -> serial of the session speaking for it
  std::atomic<bool> stopping{false};

  asio::awaitable<void> accept_loop();
  template <class Stream>
  void spawn(Stream stream, std::string peer);

  std::uint64_t add(std::weak_ptr<SessionBase> s) {
    std::lock_guard lock(mutex);
    live.emplace(++next_serial, std::move(s));
    return next_serial;
  }
  void remove(std::uint64_t serial, NodeId id) {
    std::lock_guard lock(mutex);
    live.erase(serial);
    auto it = owner.find(id);
    if (it != owner.end() && it->second == serial) {
      owner.erase(it);
    }
  }
  /// Session `serial` now speaks for node `id`; an older session for the same
  /// id (a reconnect racing the old socket's timeout) is closed.
  void claim(NodeId id, std::uint64_t serial) {
    std::shared_ptr<SessionBase> old;
    {
      std::lock_guard lock(mutex);
      auto& o = owner[id];
      if (o != 0 && o != serial) {
        if (auto it = live.find(o); it != live.end()) {
          old = it->second.lock();
        }
      }
      o = serial;
    }
    if (old) {
      log->info("node {} registered on a new connection; closing its previous one", id);
      old->close();
    }
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return live.size();
  }
};

namespace {

template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, beast::tcp_stream>;

template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code, std::string)>;

  Session(std::shared_ptr<NodeServer::Impl> server, Stream stream, std::string peer)
      : server_(std::move(server)),
        ctx_(server_->ctx),
        stream_(std::move(stream)),
        outbound_(stream_.get_executor(), kOutboundQueue),
        framer_(ctx_.config.max_envelope_bytes, protocol::Framer::ValueMemory::scratch),
        peer_(std::move(peer)) {
    identity_.address = peer_;
  }

  void start(std::uint64_t serial) {
    serial_ = serial;
    auto self = this->shared_from_this();
    asio::co_spawn(
        stream_.get_executor(), [self]() { return self->run(); }, asio::detached);
  }

  void close() override {
    auto self = this->shared_from_this();
    asio::post(stream_.get_executor(), [self]() {
      boost::system::error_code ec;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(self->stream_).cancel();
      self->outbound_.close();
    });
  }

  /// Thread-safe: queues an envelope for the writer.
  void send(std::string envelope) {
    if (!outbound_.try_send(boost::system::error_code{}, std::move(envelope))) {
      server_->log->warn("node {} ({}) is not reading its messages; closing the connection", node_id_, peer_);
      close();
    }
  }

  std::string certificate_serial() const override {
    std::lock_guard lock(server_->mutex);
    return identity_.certificate ? identity_.certificate->serial : std::string();
  }

 private:
  asio::awaitable<void> run() {
    ctx_.metrics.node_connections_total.fetch_add(1, std::memory_order_relaxed);
    registration_deadline_ = std::chrono::steady_clock::now() + ctx_.config.registration_timeout;
    if constexpr (kIsTls<Stream>) {
      if (ctx_.auth.certificates_required()) {
        const auto opening = co_await first_bytes();
        if (opening != Opening::tls) {
          if (opening == Opening::plain) {
            co_await refuse_plaintext();
          }
          finish();  // a port check, or a peer that never spoke: nothing to log
          co_return;
        }
      }
      beast::get_lowest_layer(stream_).expires_at(registration_deadline_);
      auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        // A foreign, expired or malformed client certificate ends here.
        std::uint64_t suppressed = 0;
        if (server_->refused_log.allow(suppressed)) {
          server_->log->warn("TLS handshake with {} refused: {}{}", peer_, ec.message(),
                             suppressed ? fmt::format(" ({} similar not logged)", suppressed) : "");
        }
        if (ctx_.auth.certificates_required()) {
          ctx_.auth.audit("peer:" + peer_, "node.connect", "", "TLS handshake refused: " + ec.message());
        }
        finish();
        co_return;
      }
      if (ctx_.auth.certificates_required()) {
        if (X509* cert = SSL_get1_peer_certificate(stream_.native_handle())) {
          auto identity = security::node_identity(cert);
          X509_free(cert);
          std::lock_guard lock(server_->mutex);
          identity_.certificate = std::move(identity);
          certificate_without_id_ = !identity_.certificate;
        }
      }
    }
    co_await (reader() || writer());
    finish();
  }

  asio::awaitable<void> reader() {
    std::vector<char> buffer(kReadBufferMin);
    const protocol::Framer::Sink sink{
        [this](boost::json::value&& v) { on_value(std::move(v)); },
        [this](std::string_view reason) { malformed(reason); },
        [this](std::string_view line) { return on_line(line); },
    };
    // A registered node sends a heartbeat every interval; one silent for
    // four is gone (half-open TCP) and will reconnect.
    const auto idle = 4 * ctx_.config.heartbeat;
    while (!stop_) {
      // A refused or enrolled peer gets a little time to read its answer
      // and close; it is not served any further. Deadlines before registration (and after a refusal) run from when
      // they started, not from the last byte: a peer trickling a byte now
      // and then is cut like a silent one.
      auto& socket_stream = beast::get_lowest_layer(stream_);
      if (closing_) {
        socket_stream.expires_at(closing_deadline_);
      } else if (registered_) {
        socket_stream.expires_after(idle);
      } else {
        socket_stream.expires_at(registration_deadline_);
      }
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == beast::error::timeout) {
          server_->log->info("node {} ({}) silent for too long; closing the connection", node_id_, peer_);
        }
        break;
      }
      framer_.feed(std::string_view(buffer.data(), n), sink);
      if (n == buffer.size() && buffer.size() < kReadBufferMax) {
        buffer.resize(buffer.size() * 2);
      }
      if (pending_enroll_) {
        co_await answer_enroll();
      }
      if (!batch_.empty()) {
        count_batch_in_registry();
        co_await store_batch();
      }
    }
    outbound_.close();
  }

  asio::awaitable<void> writer() {
    for (;;) {
      auto [ec, envelope] = co_await outbound_.async_receive(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        co_return;
      }
      auto [wec, n] = co_await asio::async_write(stream_, asio::buffer(envelope), asio::as_tuple(asio::use_awaitable));
      if (wec) {
        stop_ = true;
        co_return;
      }
    }
  }

  /// One registry update per run of events from the same pot in this read,
  /// not one per event (each takes the registry's mutex).
  void count_batch_in_registry() {
    const auto now = unix_now_us();
    std::size_t first = 0;
    while (first < batch_.size()) {
      const auto& head = batch_[first];
      std::size_t end = first + 1;
      while (end < batch_.size() && batch_[end].pot_id == head.pot_id && batch_[end].pot_type == head.pot_type) {
        ++end;
      }
      ctx_.registry.on_events(node_id_, head.pot_id, head.pot_type, end - first, now);
      first = end;
    }
  }

  /// Hands the read's events to storage. While storage is full the session
  /// waits here, not reading: TCP pushes back on the node, which spools.
  asio::awaitable<void> store_batch() {
    auto delay = std::chrono::milliseconds(1);
    asio::steady_timer timer(stream_.get_executor());
    std::function<void(bool)> when_committed;
    if (batch_seq_ != 0) {
      std::weak_ptr<Session> weak = this->shared_from_this();
      when_committed = [weak, seq = batch_seq_](bool ok) {
        if (auto self = weak.lock()) {
          self->on_batch_committed(ok, seq);
        }
      };
      batch_seq_ = 0;
    }
    while (!ctx_.storage.append(batch_, when_committed)) {
      timer.expires_after(delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      delay = std::min(delay * 2, std::chrono::milliseconds(50));
    }
    batch_.clear();
  }

  /// The storage's writer thread, in append order: the events up to `seq`
  /// are durable. Acks are coalesced: one EventAck in flight at a time,
  /// carrying the newest committed seq when it is sent.
  void on_batch_committed(bool ok, std::uint64_t seq) {
    if (!ok) {
      // Never ack past events that were not stored: the node keeps them
      // spooled and sends them again after reconnecting.
      acks_broken_ = true;
      server_->log->error("node {} ({}): storing its events failed; closing the connection so that it resends them",
                          node_id_, peer_);
      close();
      return;
    }
    if (acks_broken_) {
      return;
    }
    if (seq <= committed_seq_.load()) {
      return;  // only this thread raises it; a node that reused a seq gets no lower ack
    }
    committed_seq_.store(seq);
    if (!ack_posted_.exchange(true)) {
      auto self = this->shared_from_this();
      asio::post(stream_.get_executor(), [self]() {
        self->ack_posted_.store(false);
        if (!self->acks_broken_ && !self->finished_) {
          self->send(protocol::encode(protocol::EventAck{self->node_id_, self->committed_seq_.load()}));
        }
      });
    }
  }

  void malformed(std::string_view reason) {
    ctx_.metrics.node_malformed_total.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t suppressed = 0;
    if (server_->malformed_log.allow(suppressed)) {
      server_->log->warn("malformed message from {} (node {}): {}{}", peer_, node_id_, reason,
                         suppressed ? fmt::format(" ({} similar messages not logged)", suppressed) : "");
    }
    if (++malformed_ >= ctx_.config.max_malformed_per_peer && !stop_) {
      server_->log->warn("disconnecting {} (node {}): {} malformed messages", peer_, node_id_, malformed_);
      ctx_.metrics.node_disconnects_garbage.fetch_add(1, std::memory_order_relaxed);
      stop_ = true;
      beast::get_lowest_layer(stream_).cancel();
    }
  }

  void publish(StreamItem::Kind kind, const std::string& pot_id, const std::string& pot_type,
               const std::string& event_type, const std::string& src_ip, const std::string& body_json) {
    if (!ctx_.stream.has_subscribers()) {
      return;
    }
    auto item = std::make_shared<StreamItem>();
    item->kind = kind;
    item->node_id = node_id_;
    item->pot_id = pot_id;
    item->pot_type = pot_type;
    item->event_type = event_type;
    item->src_ip = src_ip;
    item->json = fmt::format("{{\"type\":\"{}\",\"node_id\":{},\"data\":{}}}", kind_name(kind), node_id_, body_json);
    ctx_.stream.publish(std::move(item));
  }

  void publish_message(StreamItem::Kind kind, const protocol::Message& m, const std::string& pot_id = {},
                       const std::string& pot_type = {}) {
    if (!ctx_.stream.has_subscribers()) {
      return;
    }
    auto text = protocol::encode(m);
    while (!text.empty() && text.back() == '\n') {
      text.pop_back();
    }
    publish(kind, pot_id, pot_type, {}, {}, text);
  }

  enum class Opening { tls, plain, gone };
  /// Whether the peer's first byte is a TLS handshake record (0x16); a node
  /// without a certificate (an older or a public node) sends JSON instead.
  asio::awaitable<Opening> first_bytes() {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    std::array<char, 1> first{};
    asio::steady_timer deadline(stream_.get_executor(), ctx_.config.registration_timeout);
    auto peek =
        socket.async_receive(asio::buffer(first), tcp::socket::message_peek, asio::as_tuple(asio::use_awaitable));
    auto wait = deadline.async_wait(asio::as_tuple(asio::use_awaitable));
    auto got = co_await (std::move(peek) || std::move(wait));
    if (got.index() != 0) {
      co_return Opening::gone;  // silent for the whole registration timeout
    }
    auto [ec, n] = std::get<0>(got);
    if (ec || n == 0) {
      co_return Opening::gone;
    }
    co_return first[0] == 0x16 ? Opening::tls : Opening::plain;
  }

  /// A plain-TCP peer on a port that requires certificates: its
  /// registration is answered, in plain text, with the reason, so that the
  /// operator reads in the node's log what to do; then the connection ends.
  asio::awaitable<void> refuse_plaintext() {
    auto& plain = beast::get_lowest_layer(stream_);
    protocol::Framer framer(64 * 1024);
    std::optional<protocol::NodeRegistration> registration;
    bool garbage = false;
    const protocol::Framer::Sink sink{
        [&](boost::json::value&& v) {
          auto decoded = protocol::decode(std::move(v));
          auto* d = std::get_if<protocol::Decoded>(&decoded);
          if (d != nullptr && std::holds_alternative<protocol::NodeRegistration>(d->message)) {
            registration = std::get<protocol::NodeRegistration>(std::move(d->message));
          } else {
            garbage = true;
          }
        },
        [&](std::string_view) { garbage = true; },
    };
    std::array<char, 4096> buffer{};
    std::size_t total = 0;
    plain.expires_at(registration_deadline_);
    while (!registration && !garbage && total < 64 * 1024) {
      auto [ec, n] = co_await plain.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        break;
      }
      total += n;
      framer.feed(std::string_view(buffer.data(), n), sink);
    }
    const std::string reason =
        "this core requires TLS with a node certificate: enroll the node with a join token "
        "(honeycomb core token create --node NAME, then honeycomb node --join TOKEN)";
    ctx_.metrics.node_refused_total.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t suppressed = 0;
    if (server_->refused_log.allow(suppressed)) {
      server_->log->warn(
          "plain-TCP connection from {}{} refused: {}{}", peer_,
          registration ? fmt::format(" (node {} '{}')", registration->node_id, registration->node_name) : std::string(),
          reason, suppressed ? fmt::format(" ({} similar not logged)", suppressed) : "");
    }
    if (!registration) {
      co_return;
    }
    ctx_.auth.audit("peer:" + peer_, "node.register", std::to_string(registration->node_id), "plain TCP refused");
    protocol::RegistrationAck ack;
    ack.node_id = registration->node_id;
    ack.accepted = false;
    ack.message = reason;
    const auto text = protocol::encode(ack);
    plain.expires_after(std::chrono::seconds(5));
    auto [wec, wn] = co_await asio::async_write(plain, asio::buffer(text), asio::as_tuple(asio::use_awaitable));
    (void)wec;
    (void)wn;
  }

  /// Enrollment (or renewal) needs the database: the reader waits for it on
  /// the pool, so the session reads nothing else meanwhile.
  asio::awaitable<void> answer_enroll() {
    auto request = std::move(*pending_enroll_);
    pending_enroll_.reset();
    NodePeer peer;
    {
      std::lock_guard lock(server_->mutex);
      peer = identity_;
    }
    NodeAuthority* auth = &ctx_.auth;
    // A named function object: GCC 12 mishandles temporaries in co_await.
    auto call = [auth, peer, request]() { return auth->enroll(peer, request); };
    auto ack = co_await api::run_blocking(ctx_.db_pool, std::move(call));
    if (!ack.accepted) {
      std::uint64_t suppressed = 0;
      if (server_->refused_log.allow(suppressed)) {
        server_->log->warn("{} from {} (node {}) refused: {}", request.join_token.empty() ? "renewal" : "enrollment",
                           peer_, request.node_id, ack.message.value_or(""));
      }
    }
    send(protocol::encode(ack));
    if (!registered_) {
      // A new certificate is used on a new connection.
      start_closing();
    }
  }

  void refuse_registration(const protocol::NodeRegistration& reg, protocol::RegistrationAck& ack, std::string reason) {
    ctx_.metrics.node_refused_total.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t suppressed = 0;
    if (server_->refused_log.allow(suppressed)) {
      server_->log->warn("registration of node {} ('{}') from {} refused: {}{}", reg.node_id, reg.node_name, peer_,
                         reason, suppressed ? fmt::format(" ({} similar not logged)", suppressed) : "");
    }
    ack.accepted = false;
    ack.message = std::move(reason);
    send(protocol::encode(ack));
    start_closing();
  }

  void start_closing() {
    closing_ = true;
    closing_deadline_ = std::chrono::steady_clock::now() + kClosingGrace;
  }

  /// A registered node's PotEvent read without building a document
  /// (core/pot_event_reader.hpp); false leaves the line to on_value(). A
  /// peer whose lines this reader keeps turning down (another node's
  /// PotEvent shape) stops being offered it, so that its lines are not
  /// parsed twice.
  bool on_line(std::string_view line) {
    if (closing_ || !registered_ || !read_lines_) {
      return false;
    }
    auto read = read_pot_event(line, unix_now_us());
    if (!read) {
      if (++lines_declined_ >= kLinesDeclinedLimit && lines_declined_ > 4 * lines_read_) {
        read_lines_ = false;
      }
      return false;
    }
    ++lines_read_;
    ctx_.metrics.node_messages_total.fetch_add(1, std::memory_order_relaxed);
    const auto sent_node_id = read->event.node_id;
    read->event.node_id = node_id_;
    accept_pot_event(sent_node_id, std::move(read->event), read->seq);
    return true;
  }

  void on_value(boost::json::value&& value) {
    if (closing_) {
      return;
    }
    ctx_.metrics.node_messages_total.fetch_add(1, std::memory_order_relaxed);
    // The message borrows the framer's scratch memory: nothing of it is kept
    // past this call (events are normalised into their own strings).
    auto decoded = protocol::decode_borrowed(std::move(value));
    if (auto* err = std::get_if<protocol::DecodeError>(&decoded)) {
      malformed(err->reason);
      return;
    }
    auto& d = std::get<protocol::Decoded>(decoded);
    if (d.version != protocol::kVersion && !version_warned_) {
      version_warned_ = true;
      server_->log->warn("{} speaks protocol version {} (this core: {}); trying anyway", peer_, d.version,
                         protocol::kVersion);
    }
    const auto now = unix_now_us();
    if (auto* enroll = std::get_if<protocol::Enroll>(&d.message)) {
      // Before registration with a join token (no certificate yet), or on a
      // registered, certificate-authenticated connection to renew it; once
      // per connection.
      if (enroll_seen_ || (registered_ && !identity_.certificate)) {
        malformed("Enroll: once per connection, and only before registering or to renew a certificate");
        return;
      }
      enroll_seen_ = true;
      pending_enroll_ = *enroll;
      return;
    }
    if (!registered_ && !std::holds_alternative<protocol::NodeRegistration>(d.message)) {
      malformed("a message before NodeRegistration");
      return;
    }
    std::visit(Overloaded{
                   [&](const protocol::NodeRegistration& m) { on_registration(m, now); },
                   [&](const protocol::NodeStatusUpdate& m) {
                     ctx_.registry.on_status(node_id_, m.status, now);
                     ctx_.commands.on_reply(node_id_, d.message);
                     publish_message(StreamItem::Kind::node_status, d.message);
                   },
                   [&](const protocol::NodeEvent& m) {
                     ctx_.registry.on_seen(node_id_, now);
                     if (m.kind == protocol::NodeEvent::Kind::alarm || m.kind == protocol::NodeEvent::Kind::error) {
                       std::uint64_t suppressed = 0;
                       if (server_->malformed_log.allow(suppressed)) {
                         server_->log->warn("node {} reports {}: {}", node_id_, protocol::to_string(m.kind), m.text);
                       }
                     } else {
                       server_->log->info("node {} reports {}", node_id_, protocol::to_string(m.kind));
                     }
                     ctx_.commands.on_reply(node_id_, d.message);
                     publish_message(StreamItem::Kind::node_event, d.message);
                   },
                   [&](const protocol::NodeDrop&) {
                     dropped_ = true;
                     stop_ = true;
                   },
                   [&](const protocol::PotStatusUpdate& m) { on_pot_status(m, d.message, now); },
                   [&](const protocol::PotEvent& m) { on_pot_event(m, now); },
                   [&](const protocol::RegistrationAck&) { malformed("RegistrationAck is sent by cores, not nodes"); },
                   [&](const protocol::NodeCommand&) { malformed("NodeCommand is sent by cores, not nodes"); },
                   [&](const protocol::EventAck&) { malformed("EventAck is sent by cores, not nodes"); },
                   [&](const protocol::EnrollAck&) { malformed("EnrollAck is sent by cores, not nodes"); },
                   [&](const protocol::Enroll&) {},
               },
               d.message);
  }

  void on_registration(const protocol::NodeRegistration& reg, std::int64_t now) {
    protocol::RegistrationAck ack;
    ack.node_id = reg.node_id;
    if (certificate_without_id_) {
      refuse_registration(reg, ack, "the client certificate names no node id");
      return;
    }
    if (auto reason = ctx_.auth.check_registration(identity_, reg, ack); !reason.empty()) {
      refuse_registration(reg, ack, std::move(reason));
      return;
    }
    if (registered_) {
      if (reg.node_id != node_id_) {
        malformed(fmt::format("registered again as node {} on a connection of node {}", reg.node_id, node_id_));
        return;
      }
    } else {
      registered_ = true;
      node_id_ = reg.node_id;
      server_->claim(node_id_, serial_);
      std::weak_ptr<Session> weak = this->shared_from_this();
      router_generation_ = ctx_.commands.attach(node_id_, [weak](std::string envelope) {
        if (auto self = weak.lock()) {
          self->send(std::move(envelope));
        }
      });
    }
    registry_session_ = ctx_.registry.on_registered(reg, now);
    server_->log->info("node {} ({}, {}) registered from {}", reg.node_name, node_id_,
                       protocol::to_string(reg.node_type), peer_);
    ack.node_id = node_id_;
    ack.accepted = true;
    ack.message = "registered";
    // Extensions are used only with a node that announced them (spec §3).
    acks_ =
        std::find(reg.extensions.begin(), reg.extensions.end(), protocol::kEventAckExtension) != reg.extensions.end();
    if (acks_) {
      ack.extensions.emplace_back(protocol::kEventAckExtension);
    }
    send(protocol::encode(ack));
    publish_message(StreamItem::Kind::node_status, reg);
  }

  void on_pot_status(const protocol::PotStatusUpdate& m, const protocol::Message& message, std::int64_t now) {
    protocol::PotStatusUpdate update = m;
    update.node_id = node_id_;
    ctx_.registry.on_pot_status(update, now);
    ctx_.commands.on_reply(node_id_, message);
    publish_message(StreamItem::Kind::pot_status, message, m.pot_id, m.pot_type);
    if (m.status == protocol::PotStatus::unknown && m.message && !m.message->empty()) {
      // The public Go node forwards every line of its event port as a
      // PotStatusUpdate with an empty status and the line's `message`:
      // for such nodes these are the honeypot's events, so store them.
      boost::json::object record;
      record["message"] = *m.message;
      if (!m.status_text.empty()) {
        record["status"] = m.status_text;
      }
      events::Envelope env;
      env.node_id = node_id_;
      env.pot_id = m.pot_id;
      env.pot_type = m.pot_type;
      env.event_type = "pot_message";
      add_event(events::normalize(record, env, now));
    }
  }

  void on_pot_event(const protocol::PotEvent& m, std::int64_t now) {
    events::Envelope env;
    env.node_id = node_id_;
    env.pot_id = m.pot_id;
    env.pot_type = m.pot_type;
    env.event_type = m.event_type;
    env.timestamp = m.timestamp;
    env.event_id = m.event_id.value_or(std::string());
    accept_pot_event(m.node_id, events::normalize(m.data, env, now), m.seq);
  }

  void accept_pot_event(NodeId sent_node_id, events::Event&& e, std::optional<std::uint64_t> seq) {
    if (sent_node_id != node_id_) {
      std::uint64_t suppressed = 0;
      if (server_->malformed_log.allow(suppressed)) {
        server_->log->warn("node {} sent an event for node {}; stored as its own", node_id_, sent_node_id);
      }
    }
    add_event(std::move(e));
    if (acks_ && seq) {
      batch_seq_ = std::max(batch_seq_, *seq);
    }
  }

  void add_event(events::Event&& e) {
    ctx_.metrics.events_received_total.fetch_add(1, std::memory_order_relaxed);
    if (ctx_.stream.has_subscribers()) {
      std::string body;
      append_event_json(body, e);
      publish(StreamItem::Kind::event, e.pot_id, e.pot_type, e.event_type, e.src_ip, body);
    }
    batch_.push_back(std::move(e));
  }

  void finish() {
    finished_ = true;
    if (registered_) {
      ctx_.commands.detach(node_id_, router_generation_);
      ctx_.registry.on_disconnected(node_id_, registry_session_, dropped_, unix_now_us());
      server_->log->info("node {} ({}) {}", node_id_, peer_, dropped_ ? "disconnected (NodeDrop)" : "connection lost");
      if (ctx_.stream.has_subscribers()) {
        publish(StreamItem::Kind::node_status, {}, {}, {}, {},
                fmt::format("{{\"node_id\":{},\"connected\":false,\"dropped\":{}}}", node_id_, dropped_));
      }
    }
    server_->remove(serial_, node_id_);
    boost::system::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  std::shared_ptr<NodeServer::Impl> server_;
  NodeServerContext& ctx_;
  Stream stream_;
  Channel outbound_;
  protocol::Framer framer_;
  std::string peer_;
  std::vector<events::Event> batch_;
  std::uint64_t serial_ = 0;
  NodeId node_id_ = 0;
  bool registered_ = false;
  bool dropped_ = false;
  bool stop_ = false;
  bool version_warned_ = false;
  std::uint32_t malformed_ = 0;
  // on_line(): PotEvent lines read directly, and lines turned down.
  static constexpr std::uint64_t kLinesDeclinedLimit = 1024;
  bool read_lines_ = true;
  std::uint64_t lines_read_ = 0;
  std::uint64_t lines_declined_ = 0;
  std::uint64_t registry_session_ = 0;
  std::uint64_t router_generation_ = 0;
  // Extension event_ack (docs/PROTOCOL.md)
  bool acks_ = false;            ///< the node announced event_ack
  std::uint64_t batch_seq_ = 0;  ///< highest seq in batch_ (0: none)
  std::atomic<std::uint64_t> committed_seq_{0};
  std::atomic<bool> ack_posted_{false};
  std::atomic<bool> acks_broken_{false};  ///< a batch failed to commit: no more acks on this connection
  bool finished_ = false;                 ///< the session ended (its executor only)
  // Authentication (docs/SECURITY.md)
  NodePeer identity_;  ///< address + verified certificate; written once under server_->mutex
  bool certificate_without_id_ = false;
  bool closing_ = false;  ///< refused or enrolled: the answer goes out, nothing more is read
  std::chrono::steady_clock::time_point closing_deadline_;
  std::chrono::steady_clock::time_point registration_deadline_;  ///< connected + registration_timeout
  bool enroll_seen_ = false;
  std::optional<protocol::Enroll> pending_enroll_;
};

}  // namespace

template <class Stream>
void NodeServer::Impl::spawn(Stream stream, std::string peer) {
  auto session = std::make_shared<Session<Stream>>(shared_from_this(), std::move(stream), std::move(peer));
  session->start(add(session));
}

asio::awaitable<void> NodeServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) {
        co_return;
      }
      // EMFILE and friends: back off instead of spinning.
      log->warn("accept on {} failed: {}", ctx.config.node_listen.text(), ec.message());
      asio::steady_timer t(io, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code pec;
    auto remote = socket.remote_endpoint(pec);
    std::string peer = pec ? std::string("?") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
    if (count() >= ctx.config.max_nodes) {
      std::uint64_t suppressed = 0;
      if (refused_log.allow(suppressed)) {
        log->warn("refusing {}: {} node connections already (max_nodes)", peer, ctx.config.max_nodes);
      }
      socket.close(pec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), pec);
    if (tls) {
      spawn(beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls), std::move(peer));
    } else {
      spawn(beast::tcp_stream(std::move(socket)), std::move(peer));
    }
  }
}

NodeServer::NodeServer(asio::io_context& io, NodeServerContext context, std::shared_ptr<asio::ssl::context> tls)
    : impl_(std::make_shared<Impl>(io, context, std::move(tls))) {}

NodeServer::~NodeServer() {
  stop();
}

std::string NodeServer::start() {
  auto error = open_listener(impl_->acceptor, impl_->ctx.config.node_listen, "node_listen", "nodes");
  if (!error.empty()) {
    return error;
  }
  auto& a = impl_->acceptor;
  asio::co_spawn(a.get_executor(), impl_->accept_loop(), asio::detached);
  return {};
}

void NodeServer::stop() {
  if (impl_->stopping.exchange(true)) {
    return;
  }
  auto impl = impl_;
  asio::post(impl->acceptor.get_executor(), [impl]() {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(impl->mutex);
    for (auto& [serial, weak] : impl->live) {
      if (auto s = weak.lock()) {
        sessions.push_back(std::move(s));
      }
    }
  }
  for (auto& s : sessions) {
    s->close();
  }
}

std::uint16_t NodeServer::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::size_t NodeServer::sessions() const {
  return impl_->count();
}

void NodeServer::close_revoked() {
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& [serial, weak] : impl_->live) {
      if (auto s = weak.lock()) {
        sessions.push_back(std::move(s));
      }
    }
  }
  for (auto& s : sessions) {
    const auto serial = s->certificate_serial();
    if (!serial.empty() && !impl_->ctx.auth.certificate_current(serial)) {
      impl_->log->warn("closing the connection authenticated by certificate {}: revoked", serial);
      s->close();
    }
  }
}

}  // namespace honeycomb::core
