// The WebSocket stream end to end: a real WsServer on 127.0.0.1:0 (two I/O
// threads, a database pool, Auth over a real SQLite storage in a temporary
// directory) and Beast WebSocket clients, each on its own io_context with a
// deadline on every operation. Items are published into the StreamHub as the
// node server does.
#include "core/ws/ws_server.hpp"

#include "core/auth.hpp"
#include "core/metrics.hpp"
#include "core/stream_hub.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace honeycomb::core {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// Deadline of one client operation (generous: sanitizer builds are slow).
constexpr auto kTimeout = std::chrono::milliseconds(20'000);

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(100us);
  }
  return true;
}

/// A WebSocket client; every operation runs the client's own io_context
/// until it completes, under a deadline (tcp_stream expiry).
class Client {
 public:
  /// Connects and upgrades. `authorization` empty: no header. On a
  /// refused upgrade, status() tells the HTTP status.
  beast::error_code connect(std::uint16_t port, const std::string& authorization,
                            const std::string& target = "/api/v1/stream", int receive_buffer = 0) {
    auto& layer = beast::get_lowest_layer(ws_);
    beast::error_code ec;
    if (receive_buffer > 0) {
      layer.socket().open(tcp::v4(), ec);
      layer.socket().set_option(asio::socket_base::receive_buffer_size(receive_buffer), ec);
    }
    ec = run([&](auto handler) {
      layer.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), std::move(handler));
    });
    if (ec) {
      return ec;
    }
    ws_.set_option(websocket::stream_base::decorator([authorization](websocket::request_type& req) {
      if (!authorization.empty()) {
        req.set(http::field::authorization, authorization);
      }
    }));
    return run([&](auto handler) {
      ws_.async_handshake(response_, "127.0.0.1:" + std::to_string(port), target, std::move(handler));
    });
  }
  unsigned status() const { return response_.result_int(); }
  const std::string& response_body() const { return response_.body(); }

  beast::error_code send(const std::string& text, bool binary = false) {
    ws_.binary(binary);
    return run([&](auto handler) { ws_.async_write(asio::buffer(text), std::move(handler)); });
  }

  /// One message, or an error (closed: see close_code()).
  beast::error_code read(std::string& out, std::chrono::milliseconds timeout = kTimeout) {
    buffer_.clear();
    auto ec = run([&](auto handler) { ws_.async_read(buffer_, std::move(handler)); }, timeout);
    out = beast::buffers_to_string(buffer_.data());
    return ec;
  }

  /// The next message as JSON; a failed test and null on error.
  json::value read_json(std::chrono::milliseconds timeout = kTimeout) {
    std::string text;
    const auto ec = read(text, timeout);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) {
      return nullptr;
    }
    boost::system::error_code parse_ec;
    auto v = json::parse(text, parse_ec);
    EXPECT_FALSE(parse_ec) << text;
    return v;
  }

  /// Reads until the connection closes; true when it was closed by the
  /// server with a close frame (see close_code(), close_text()).
  bool wait_closed(std::chrono::milliseconds timeout = kTimeout) {
    for (;;) {
      std::string ignored;
      const auto ec = read(ignored, timeout);
      if (ec == websocket::error::closed) {
        return true;
      }
      if (ec) {
        ADD_FAILURE() << "connection ended without a close frame: " << ec.message();
        return false;
      }
    }
  }
  std::uint16_t close_code() const { return ws_.reason().code; }
  std::string close_text() const { return std::string(ws_.reason().reason.data(), ws_.reason().reason.size()); }

  beast::error_code close() {
    return run([&](auto handler) { ws_.async_close(websocket::close_code::normal, std::move(handler)); });
  }

 private:
  template <class Initiate>
  beast::error_code run(Initiate initiate, std::chrono::milliseconds timeout = kTimeout) {
    beast::error_code result;
    bool done = false;
    beast::get_lowest_layer(ws_).expires_after(timeout);
    initiate([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    while (!done && io_.run_one() != 0) {
    }
    return done ? result : beast::error_code(asio::error::operation_aborted);
  }

  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_{io_};
  websocket::response_type response_;
  beast::flat_buffer buffer_;
};

std::shared_ptr<const StreamItem> make_item(std::string tag, StreamItem::Kind kind = StreamItem::Kind::event,
                                            std::uint64_t node = 1, std::string pot_type = "cowrie",
                                            std::string event_type = "login", std::string src = "10.1.2.3",
                                            std::string pad = {}) {
  auto item = std::make_shared<StreamItem>();
  item->kind = kind;
  item->node_id = node;
  item->pot_id = "pot-" + pot_type;
  item->pot_type = std::move(pot_type);
  item->event_type = std::move(event_type);
  item->src_ip = std::move(src);
  json::object o;
  o["type"] = "event";
  o["tag"] = tag;
  if (!pad.empty()) {
    o["pad"] = pad;
  }
  item->json = json::serialize(o);
  return item;
}

std::string type_of(const json::value& v) {
  const auto* o = v.if_object();
  const auto* t = o ? o->if_contains("type") : nullptr;
  return t && t->is_string() ? std::string(t->get_string()) : std::string();
}

class WsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/honeycomb-ws-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StorageOptions options;
    options.path = (dir_ / "events.db").string();
    std::string error;
    storage_ = store::open_sqlite(options, error);
    ASSERT_TRUE(storage_) << error;
    auth_ = std::make_unique<Auth>(*storage_);
    token_ = auth_->create("ws-test");
    config_.ws_listen = Listen{"127.0.0.1", 0};
    config_.ws_client_queue = 4096;
    config_.ws_max_clients = 16;
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
      EXPECT_TRUE(wait_for([&] { return server_->clients() == 0; }));
      EXPECT_FALSE(hub_.has_subscribers());
    }
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      t.join();
    }
    pool_.join();
    server_.reset();
    auth_.reset();
    storage_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void start() {
    server_ = std::make_unique<WsServer>(io_, WsContext{config_, hub_, *auth_, metrics_, pool_}, nullptr);
    server_->set_limits(limits_);
    ASSERT_EQ(server_->start(), "");
    ASSERT_NE(server_->port(), 0);
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }

  std::string bearer() const { return "Bearer " + token_; }

  /// Connects with the header and reads the hello.
  void connect(Client& c) {
    ASSERT_FALSE(c.connect(server_->port(), bearer()));
    const auto hello = c.read_json();
    ASSERT_EQ(type_of(hello), "hello") << hello;
  }

  /// Sets a filter and waits for its confirmation; returns the echo.
  json::value set_filter(Client& c, const std::string& filter) {
    EXPECT_FALSE(c.send("{\"filter\":" + filter + "}"));
    auto reply = c.read_json();
    EXPECT_EQ(type_of(reply), "filter") << reply;
    return reply;
  }

  /// Tags of the items received up to and including the one tagged "end".
  static std::vector<std::string> read_tags_until_end(Client& c) {
    std::vector<std::string> tags;
    for (;;) {
      const auto v = c.read_json();
      if (v.is_null()) {
        return tags;
      }
      const auto* tag = v.as_object().if_contains("tag");
      if (tag == nullptr) {
        ADD_FAILURE() << "unexpected message " << v;
        continue;
      }
      tags.emplace_back(tag->as_string());
      if (tags.back() == "end") {
        return tags;
      }
    }
  }

  /// Items covering every field a filter looks at.
  void publish_sample() {
    using K = StreamItem::Kind;
    hub_.publish(make_item("a", K::event, 1, "cowrie", "login", "10.1.2.3"));
    hub_.publish(make_item("b", K::event, 2, "dionaea", "connect", "192.168.1.5"));
    hub_.publish(make_item("c", K::event, 1, "cowrie", "command", "2001:db8::5"));
    hub_.publish(make_item("d", K::node_status, 2, "", "", ""));
    hub_.publish(make_item("e", K::pot_status, 1, "dionaea", "", ""));
    hub_.publish(make_item("f", K::event, 3, "cowrie", "login", "::ffff:10.9.9.9"));
  }

  /// The tags a client with `filter` receives from publish_sample() plus
  /// an "end" item that `end` makes match.
  std::vector<std::string> filtered(const std::string& filter, std::shared_ptr<const StreamItem> end) {
    Client c;
    connect(c);
    set_filter(c, filter);
    publish_sample();
    hub_.publish(std::move(end));
    return read_tags_until_end(c);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Storage> storage_;
  std::unique_ptr<Auth> auth_;
  std::string token_;
  CoreConfig config_;
  WsLimits limits_;
  StreamHub hub_;
  Metrics metrics_;
  asio::thread_pool pool_{2};
  asio::io_context io_{2};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::unique_ptr<WsServer> server_;
};

using Tags = std::vector<std::string>;

TEST_F(WsServerTest, AuthorizationHeaderIsAccepted) {
  start();
  Client c;
  ASSERT_FALSE(c.connect(server_->port(), bearer()));
  const auto hello = c.read_json();
  EXPECT_EQ(hello, json::parse(R"({"type":"hello","version":"1","filter":{}})"));
  EXPECT_TRUE(wait_for([&] { return metrics_.ws_clients.load() == 1; }));
  EXPECT_EQ(server_->clients(), 1U);

  // The other path works too; the lower-case scheme as well.
  Client root;
  ASSERT_FALSE(root.connect(server_->port(), "bearer " + token_, "/"));
  EXPECT_EQ(type_of(root.read_json()), "hello");
  EXPECT_TRUE(wait_for([&] { return metrics_.ws_clients.load() == 2; }));

  EXPECT_FALSE(c.close());
  EXPECT_TRUE(wait_for([&] { return metrics_.ws_clients.load() == 1; }));
}

TEST_F(WsServerTest, BadOrMissingSchemeIsRefusedWith401) {
  start();
  for (const std::string& header : {std::string("Bearer hc_wrong"), std::string("Basic dXNlcjpwYXNz"), token_}) {
    Client c;
    EXPECT_EQ(c.connect(server_->port(), header), websocket::error::upgrade_declined) << header;
    EXPECT_EQ(c.status(), 401U) << header;
    EXPECT_EQ(json::parse(c.response_body()), json::parse(R"({"error":"unauthorized"})"));
  }
  EXPECT_EQ(metrics_.ws_clients.load(), 0U);
  EXPECT_FALSE(hub_.has_subscribers());
}

TEST_F(WsServerTest, TokenInTheFirstMessageIsAccepted) {
  start();
  Client c;
  ASSERT_FALSE(c.connect(server_->port(), ""));
  ASSERT_FALSE(c.send(R"({"token":")" + token_ + R"(","filter":{"pot_type":"cowrie"}})"));
  const auto hello = c.read_json();
  EXPECT_EQ(hello, json::parse(R"({"type":"hello","version":"1","filter":{"pot_type":"cowrie"}})"));
  hub_.publish(make_item("x", StreamItem::Kind::event, 1, "dionaea"));
  hub_.publish(make_item("end"));
  EXPECT_EQ(read_tags_until_end(c), (Tags{"end"}));
}

TEST_F(WsServerTest, WrongTokenInTheFirstMessageIsClosedUnauthorized) {
  start();
  for (const std::string& first :
       {std::string(R"({"token":"hc_wrong"})"), std::string(R"({"filter":{}})"), std::string("garbage"),
        std::string(R"({"token":")") + token_ + R"(","filter":{"src":"x"}})"}) {
    Client c;
    ASSERT_FALSE(c.connect(server_->port(), ""));
    ASSERT_FALSE(c.send(first));
    ASSERT_TRUE(c.wait_closed()) << first;
    EXPECT_EQ(c.close_code(), websocket::close_code::policy_error) << first;
    EXPECT_EQ(c.close_text(), "unauthorized") << first;
  }
  EXPECT_EQ(metrics_.ws_clients.load(), 0U);
}

// Guessing tokens over the WebSocket counts towards the same per-address
// limit as the REST API: after 10 failures even the right token is refused.
TEST_F(WsServerTest, RepeatedWrongTokensBlockTheAddress) {
  start();
  for (int i = 0; i < 10; ++i) {
    Client c;
    EXPECT_EQ(c.connect(server_->port(), "Bearer hc_wrong" + std::to_string(i)), websocket::error::upgrade_declined);
    EXPECT_EQ(c.status(), 401U);
  }
  Client refused;
  EXPECT_EQ(refused.connect(server_->port(), bearer()), websocket::error::upgrade_declined);
  EXPECT_EQ(refused.status(), 401U);
  Client by_message;
  ASSERT_FALSE(by_message.connect(server_->port(), ""));
  ASSERT_FALSE(by_message.send(R"({"token":")" + token_ + R"("})"));
  ASSERT_TRUE(by_message.wait_closed());
  EXPECT_EQ(by_message.close_text(), "unauthorized");
  EXPECT_EQ(metrics_.ws_clients.load(), 0U);
}

TEST_F(WsServerTest, SilenceWithoutTokenIsClosedAfterTheAuthTimeout) {
  limits_.auth_timeout = 300ms;
  start();
  // A token in the URL is not a way in.
  Client c;
  ASSERT_FALSE(c.connect(server_->port(), "", "/api/v1/stream?token=" + token_));
  ASSERT_TRUE(c.wait_closed());
  EXPECT_EQ(c.close_code(), websocket::close_code::policy_error);
  EXPECT_EQ(c.close_text(), "unauthorized");
  EXPECT_EQ(metrics_.ws_clients.load(), 0U);
}

TEST_F(WsServerTest, PublishedItemsAreReceivedInOrder) {
  start();
  Client c;
  connect(c);
  using K = StreamItem::Kind;
  std::vector<std::shared_ptr<const StreamItem>> items = {
      make_item("1", K::event), make_item("2", K::node_status, 5, "", "", ""),
      make_item("3", K::pot_status, 5, "cowrie", "", ""), make_item("4", K::node_event, 5, "", "", "")};
  for (const auto& i : items) {
    hub_.publish(i);
  }
  for (const auto& i : items) {
    std::string text;
    ASSERT_FALSE(c.read(text));
    EXPECT_EQ(text, i->json);  // the frame is the item's text, byte for byte
  }
}

TEST_F(WsServerTest, FilterByPotType) {
  start();
  EXPECT_EQ(filtered(R"({"pot_type":"cowrie"})", make_item("end")), (Tags{"a", "c", "d", "f", "end"}));
}

TEST_F(WsServerTest, FilterByEventType) {
  start();
  EXPECT_EQ(filtered(R"({"event_type":"login"})", make_item("end")), (Tags{"a", "d", "e", "f", "end"}));
}

TEST_F(WsServerTest, FilterByNode) {
  start();
  EXPECT_EQ(filtered(R"({"node":"2"})", make_item("end", StreamItem::Kind::event, 2)), (Tags{"b", "d", "end"}));
  EXPECT_EQ(filtered(R"({"node":1,"kinds":["event"]})", make_item("end")), (Tags{"a", "c", "end"}));
}

TEST_F(WsServerTest, FilterBySourceCidrV4) {
  start();
  Client c;
  connect(c);
  const auto echo = set_filter(c, R"({"src":"10.1.2.3/8"})");
  EXPECT_EQ(echo, json::parse(R"({"type":"filter","filter":{"src":"10.0.0.0/8"}})"));
  publish_sample();
  hub_.publish(make_item("end", StreamItem::Kind::event, 1, "cowrie", "login", "10.0.0.1"));
  EXPECT_EQ(read_tags_until_end(c), (Tags{"a", "d", "e", "f", "end"}));
}

TEST_F(WsServerTest, FilterBySourceCidrV6) {
  start();
  EXPECT_EQ(filtered(R"({"src":"2001:db8::/32"})",
                     make_item("end", StreamItem::Kind::event, 1, "cowrie", "login", "2001:db8:ffff::1")),
            (Tags{"c", "d", "e", "end"}));
  EXPECT_EQ(filtered(R"({"src":"2001:db8::5"})",
                     make_item("end", StreamItem::Kind::event, 1, "cowrie", "login", "2001:db8::5")),
            (Tags{"c", "d", "e", "end"}));
}

TEST_F(WsServerTest, CombinedFilterAndReset) {
  start();
  Client c;
  connect(c);
  set_filter(c, R"({"pot_type":"cowrie","event_type":"login","src":"10.1.0.0/16","kinds":["event"]})");
  publish_sample();
  hub_.publish(make_item("end"));
  EXPECT_EQ(read_tags_until_end(c), (Tags{"a", "end"}));
  // An empty filter is everything again.
  EXPECT_EQ(set_filter(c, "{}"), json::parse(R"({"type":"filter","filter":{}})"));
  publish_sample();
  hub_.publish(make_item("end"));
  EXPECT_EQ(read_tags_until_end(c), (Tags{"a", "b", "c", "d", "e", "f", "end"}));
}

TEST_F(WsServerTest, InvalidFilterIsAnErrorAndTheOldFilterStays) {
  start();
  Client c;
  connect(c);
  set_filter(c, R"({"pot_type":"cowrie"})");
  ASSERT_FALSE(c.send(R"({"filter":{"src":"300.0.0.0/8"}})"));
  const auto error = c.read_json();
  EXPECT_EQ(type_of(error), "error") << error;
  EXPECT_NE(std::string(error.at("message").as_string()).find("src"), std::string::npos) << error;
  hub_.publish(make_item("x", StreamItem::Kind::event, 1, "dionaea"));
  hub_.publish(make_item("end"));
  EXPECT_EQ(read_tags_until_end(c), (Tags{"end"}));
}

TEST_F(WsServerTest, GarbageIsAnsweredAndRepeatedGarbageCloses) {
  limits_.max_invalid_messages = 4;
  start();
  Client c;
  connect(c);
  ASSERT_FALSE(c.send("not json at all"));
  EXPECT_EQ(type_of(c.read_json()), "error");
  ASSERT_FALSE(c.send(std::string("\x00\xff\x01", 3), true));
  EXPECT_EQ(type_of(c.read_json()), "error");
  ASSERT_FALSE(c.send(R"({"filter":{}, "hello":1})"));
  EXPECT_EQ(type_of(c.read_json()), "error");
  // A valid message resets the count...
  set_filter(c, "{}");
  ASSERT_FALSE(c.send("[1,2,3]"));
  EXPECT_EQ(type_of(c.read_json()), "error");
  ASSERT_FALSE(c.send(std::string(100, '{')));
  EXPECT_EQ(type_of(c.read_json()), "error");
  ASSERT_FALSE(c.send("{\"filter\":7}"));
  EXPECT_EQ(type_of(c.read_json()), "error");
  // ...and the fourth in a row closes.
  ASSERT_FALSE(c.send("\"x\""));
  ASSERT_TRUE(c.wait_closed());  // the last error reply may or may not come before the close frame
  EXPECT_EQ(c.close_code(), websocket::close_code::policy_error);
  EXPECT_EQ(c.close_text(), "too many invalid messages");

  // A message over the size limit is refused by the WebSocket layer.
  Client big;
  connect(big);
  (void)big.send(std::string(limits_.max_message_bytes + 1, ' '));
  std::string ignored;
  const auto big_ec = big.read(ignored);
  EXPECT_TRUE(big_ec);  // closed with "too big", or reset while still sending
  if (big_ec == websocket::error::closed) {
    EXPECT_EQ(big.close_code(), websocket::close_code::too_big);
  }

  // The server is fine.
  Client after;
  connect(after);
  hub_.publish(make_item("end"));
  EXPECT_EQ(read_tags_until_end(after), (Tags{"end"}));
}

TEST_F(WsServerTest, SlowClientMissesItemsWithoutSlowingOthers) {
  config_.ws_client_queue = 16;
  start();
  constexpr int kItems = 10'000;
  const std::string pad(2048, 'p');

  Client slow;
  ASSERT_FALSE(slow.connect(server_->port(), bearer(), "/api/v1/stream", 4096));
  ASSERT_EQ(type_of(slow.read_json()), "hello");

  Client fast;
  connect(fast);
  std::atomic<int> fast_received{0};
  std::vector<int> fast_seqs;
  std::thread reader([&] {
    while (fast_received.load() < kItems) {
      const auto v = fast.read_json();
      if (v.is_null()) {
        return;
      }
      fast_seqs.push_back(std::stoi(std::string(v.at("tag").as_string())));
      fast_received.fetch_add(1);
    }
  });

  // The fast client keeps up: never more than half its queue ahead of it.
  auto max_publish = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < kItems; ++i) {
    ASSERT_TRUE(wait_for([&] { return fast_received.load() >= i - 8; })) << "fast client stuck at " << i;
    auto item = make_item(std::to_string(i), StreamItem::Kind::event, 1, "cowrie", "login", "10.0.0.1", pad);
    const auto t0 = std::chrono::steady_clock::now();
    hub_.publish(std::move(item));
    max_publish = std::max(max_publish, std::chrono::steady_clock::now() - t0);
  }
  EXPECT_LT(max_publish, 1s) << "a publish blocked";
  EXPECT_TRUE(wait_for([&] { return fast_received.load() == kItems; }));
  reader.join();
  ASSERT_EQ(fast_seqs.size(), static_cast<std::size_t>(kItems));
  for (int i = 0; i < kItems; ++i) {
    ASSERT_EQ(fast_seqs[static_cast<std::size_t>(i)], i);
  }

  // The slow client reads now: items in order, and every gap announced by
  // a "missed" message with its exact size, just before the next item.
  std::uint64_t items = 0;
  std::uint64_t missed = 0;
  int missed_messages = 0;
  int expected_next = 0;
  std::optional<std::uint64_t> pending_gap;
  while (items + missed < static_cast<std::uint64_t>(kItems)) {
    const auto v = slow.read_json();
    ASSERT_FALSE(v.is_null()) << "after " << items << " items and " << missed << " missed";
    const auto type = type_of(v);
    if (type == "missed") {
      ASSERT_FALSE(pending_gap.has_value()) << "two missed messages in a row";
      const auto count = v.at("count").to_number<std::uint64_t>();
      ASSERT_GT(count, 0U);
      pending_gap = count;
      missed += count;
      ++missed_messages;
      continue;
    }
    ASSERT_EQ(type, "event") << v;
    const int seq = std::stoi(std::string(v.at("tag").as_string()));
    ASSERT_EQ(static_cast<std::uint64_t>(seq), static_cast<std::uint64_t>(expected_next) + pending_gap.value_or(0))
        << "item " << seq << " after a gap of " << pending_gap.value_or(0);
    pending_gap.reset();
    expected_next = seq + 1;
    ++items;
  }
  EXPECT_EQ(items + missed, static_cast<std::uint64_t>(kItems));
  EXPECT_GE(missed_messages, 1);
  EXPECT_GT(missed, 0U);
  EXPECT_EQ(metrics_.ws_messages_dropped_total.load(), missed);  // the fast client missed nothing

  // Both still work.
  hub_.publish(make_item("end"));
  EXPECT_EQ(read_tags_until_end(slow), (Tags{"end"}));
  EXPECT_EQ(read_tags_until_end(fast), (Tags{"end"}));
}

TEST_F(WsServerTest, MaxClientsAnswer503) {
  config_.ws_max_clients = 2;
  start();
  Client a;
  Client b;
  connect(a);
  connect(b);
  Client c;
  EXPECT_EQ(c.connect(server_->port(), bearer()), websocket::error::upgrade_declined);
  EXPECT_EQ(c.status(), 503U);
  Client d;
  EXPECT_EQ(d.connect(server_->port(), ""), websocket::error::upgrade_declined);
  EXPECT_EQ(d.status(), 503U);

  ASSERT_FALSE(a.close());
  ASSERT_TRUE(wait_for([&] { return server_->clients() < 2; }));
  Client e;
  connect(e);
  EXPECT_EQ(server_->clients(), 2U);
}

TEST_F(WsServerTest, StopClosesClientsWithGoingAway) {
  start();
  Client c;
  connect(c);
  Client pending;  // upgraded, token not sent yet
  ASSERT_FALSE(pending.connect(server_->port(), ""));
  server_->stop();
  EXPECT_FALSE(hub_.has_subscribers());  // right away, not when the close ends
  ASSERT_TRUE(c.wait_closed());
  EXPECT_EQ(c.close_code(), websocket::close_code::going_away);
  ASSERT_TRUE(pending.wait_closed());
  EXPECT_EQ(pending.close_code(), websocket::close_code::going_away);
  EXPECT_TRUE(wait_for([&] { return metrics_.ws_clients.load() == 0; }));
  Client late;
  EXPECT_TRUE(late.connect(server_->port(), bearer()));  // no longer listening
}

TEST_F(WsServerTest, PlainHttpGets426AndUnknownPath404) {
  start();
  for (const auto& [target, status] : {std::pair<std::string, unsigned>{"/api/v1/stream", 426}, {"/other", 404}}) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::authorization, bearer());
    if (status == 404) {
      req.set(http::field::connection, "upgrade");
      req.set(http::field::upgrade, "websocket");
      req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
      req.set(http::field::sec_websocket_version, "13");
    }
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.result_int(), status) << target;
  }
}

TEST_F(WsServerTest, StartReportsAPortInUse) {
  asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  config_.ws_listen = Listen{"127.0.0.1", port};
  WsServer server(io_, WsContext{config_, hub_, *auth_, metrics_, pool_}, nullptr);
  EXPECT_EQ(server.start(),
            "cannot listen on 127.0.0.1:" + std::to_string(port) + " (WebSocket): Address already in use");

  config_.ws_listen = Listen{"not-an-ip", 0};
  WsServer bad(io_, WsContext{config_, hub_, *auth_, metrics_, pool_}, nullptr);
  EXPECT_NE(bad.start().find("is not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace honeycomb::core
