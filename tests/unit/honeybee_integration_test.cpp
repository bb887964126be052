// honeybee: alerts as HoneyBee event lines to a real TCP listener on
// 127.0.0.1 (the node's event port stand-in), environment fallbacks,
// reconnects, bounded failures.
#include "common/log.hpp"
#include "pipeline/integration.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <cstdlib>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace honeycomb::pipeline {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// How long a test waits for something that should happen at once; only
// reached when the integration is broken.
constexpr std::chrono::seconds deadline_after{10};

int left_ms(Clock::time_point deadline) {
  return static_cast<int>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
}

// A listening socket on 127.0.0.1 (port chosen by the kernel). Connections
// complete in the kernel's backlog, so the integration's blocking send()
// returns before the test accepts; the test then reads with deadlines.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { close(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  [[nodiscard]] int port() const { return port_; }
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  /// The next connection, or -1 when none comes before the deadline.
  [[nodiscard]] int accept() const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left_ms(Clock::now() + deadline_after)) != 1) {
      return -1;
    }
    return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Reads one accepted connection line by line.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}
  ~Peer() { close(); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  [[nodiscard]] bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  /// `n` complete lines (without '\n'); fewer when the deadline passes or
  /// the connection ends.
  std::vector<std::string> lines(std::size_t n) {
    const auto deadline = Clock::now() + deadline_after;
    std::vector<std::string> out;
    while (out.size() < n) {
      if (auto nl = pending_.find('\n'); nl != std::string::npos) {
        out.push_back(pending_.substr(0, nl));
        pending_.erase(0, nl + 1);
        continue;
      }
      if (!read_some(deadline)) {
        break;
      }
    }
    return out;
  }

  /// Everything until the peer closes: the complete lines and what follows
  /// the last '\n'.
  std::pair<std::vector<std::string>, std::string> until_eof() {
    const auto deadline = Clock::now() + deadline_after;
    while (read_some(deadline)) {
    }
    std::vector<std::string> out;
    for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n')) {
      out.push_back(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
    return {out, pending_};
  }

 private:
  bool read_some(Clock::time_point deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left_ms(deadline)) != 1) {
      return false;
    }
    char buf[65536];
    const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) {
      return false;
    }
    pending_.append(buf, static_cast<std::size_t>(got));
    return true;
  }

  int fd_;
  std::string pending_;
};

// A port nothing listens on (bound, then closed).
int closed_port() {
  Listener l;
  const int port = l.port();
  l.close();
  return port;
}

class HoneybeeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::init({{}, false, false});
    spec_.name = "honeybee";
    clear_env();
  }
  void TearDown() override { clear_env(); }

  static void clear_env() {
    ::unsetenv("HONEYBEE_EVENT_PORT");
    ::unsetenv("HONEYBEE_POT_ID");
    ::unsetenv("HONEYBEE_HONEYPOT_TYPE");
  }

  std::unique_ptr<Integration> make(std::map<std::string, Value, std::less<>> values) {
    args_ = ServiceArgs(std::move(values));
    const auto* factory = find_integration("honeybee");
    EXPECT_NE(factory, nullptr);
    return (*factory)({spec_, args_, log::get("test")});
  }

  // Alerts of event type "hit" from service "svc", field n = first, first+1, ...
  static std::vector<AlertRecordPtr> records(std::size_t n, std::size_t payload = 8, std::int64_t first = 0) {
    plugin::EventTypeSpec event{"hit", "Hit", {}, plugin::Policy::alert};
    std::vector<AlertRecordPtr> out;
    for (std::size_t i = 0; i < n; ++i) {
      Alert alert("hit");
      alert.set("request", std::string(payload, 'x')).set("n", Value{first + static_cast<std::int64_t>(i)});
      out.push_back(make_record(std::move(alert), event, "svc"));
    }
    return out;
  }

  static json::object parse(const std::string& line) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    EXPECT_FALSE(ec) << ec.message() << ": " << line;
    EXPECT_TRUE(v.is_object()) << line;
    return v.is_object() ? v.get_object() : json::object{};
  }

  /// The one line the next connection to `listener` carries, parsed (an
  /// empty object, and a failure, when there is not exactly one).
  static json::object only_line(Listener& listener) {
    Peer peer(listener.accept());
    EXPECT_TRUE(peer.ok());
    const auto lines = peer.lines(1);
    EXPECT_EQ(lines.size(), 1U);
    return lines.size() == 1 ? parse(lines[0]) : json::object{};
  }

  static std::string text(const json::value& v) {
    return v.is_string() ? std::string(v.get_string()) : "<not a string: " + json::serialize(v) + ">";
  }

  static std::int64_t n_of(const std::string& line) {
    const auto o = parse(line);
    const auto* data = o.if_contains("data");
    return data != nullptr && data->is_object() && data->get_object().contains("n")
               ? data->get_object().at("n").to_number<std::int64_t>()
               : -1;
  }

  plugin::IntegrationSpec spec_;
  ServiceArgs args_;
};

TEST_F(HoneybeeTest, BatchArrivesAsOneLinePerAlertWithEnvironmentFallbacks) {
  Listener listener;
  ::setenv("HONEYBEE_EVENT_PORT", std::to_string(listener.port()).c_str(), 1);
  ::setenv("HONEYBEE_POT_ID", "pot-env-1", 1);
  ::setenv("HONEYBEE_HONEYPOT_TYPE", "honeycomb-env", 1);
  // Parameters as an installed integration without .args.json has them.
  auto out = make({{"address", Value{std::string("127.0.0.1")}},
                   {"port", Value{std::int64_t{0}}},
                   {"pot_id", Value{std::string()}},
                   {"pot_type", Value{std::string()}},
                   {"timeout", Value{std::int64_t{5}}}});
  const auto batch = records(2);
  const auto r = out->send(batch);
  EXPECT_EQ(r.delivered, 2U);
  EXPECT_EQ(r.error, "");

  Peer peer(listener.accept());
  ASSERT_TRUE(peer.ok());
  const auto lines = peer.lines(2);
  ASSERT_EQ(lines.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto o = parse(lines[i]);
    EXPECT_EQ(o.size(), 5U) << lines[i];
    EXPECT_EQ(text(o.at("pot_id")), "pot-env-1");
    EXPECT_EQ(text(o.at("pot_type")), "honeycomb-env");
    EXPECT_EQ(text(o.at("event_type")), "hit");
    EXPECT_EQ(text(o.at("timestamp")), batch[i]->timestamp);
    // data: the whole record, the host's stamps and the service's fields.
    ASSERT_TRUE(o.at("data").is_object());
    const auto& data = o.at("data").get_object();
    EXPECT_EQ(data, json::parse(batch[i]->json).get_object());
    EXPECT_EQ(text(data.at("id")), batch[i]->id);
    EXPECT_EQ(text(data.at("service")), "svc");
    EXPECT_EQ(text(data.at("event_type")), "hit");
    EXPECT_EQ(text(data.at("request")), "xxxxxxxx");
    EXPECT_EQ(data.at("n").to_number<std::int64_t>(), static_cast<std::int64_t>(i));
  }
}

TEST_F(HoneybeeTest, ExplicitParametersOverrideTheEnvironment) {
  Listener listener;
  ::setenv("HONEYBEE_EVENT_PORT", std::to_string(closed_port()).c_str(), 1);
  ::setenv("HONEYBEE_POT_ID", "pot-env-1", 1);
  ::setenv("HONEYBEE_HONEYPOT_TYPE", "honeycomb-env", 1);
  auto out = make({{"address", Value{std::string("127.0.0.1")}},
                   {"port", Value{std::int64_t{listener.port()}}},
                   {"pot_id", Value{std::string("pot-param")}},
                   {"pot_type", Value{std::string("type-param")}}});
  const auto r = out->send(records(1));
  EXPECT_EQ(r.delivered, 1U) << r.error;

  const auto o = only_line(listener);
  EXPECT_EQ(text(o.at("pot_id")), "pot-param");
  EXPECT_EQ(text(o.at("pot_type")), "type-param");
}

TEST_F(HoneybeeTest, WithoutParametersOrEnvironmentTheServiceNamesThePot) {
  Listener listener;
  auto out = make({{"port", Value{std::int64_t{listener.port()}}}});
  EXPECT_EQ(out->send(records(1)).delivered, 1U);
  const auto o = only_line(listener);
  EXPECT_EQ(text(o.at("pot_id")), "svc");
  EXPECT_EQ(text(o.at("pot_type")), "svc");
}

TEST_F(HoneybeeTest, AttackerBytesStayInsideOneValidLine) {
  Listener listener;
  auto out = make({{"port", Value{std::int64_t{listener.port()}}}});
  plugin::EventTypeSpec event{"hit", "Hit", {}, plugin::Policy::alert};
  Alert alert("hit");
  alert.set("request", std::string("a\"b\\c\nd\r\x01\xff}\n{\"pot_id\":\"evil\"}"));
  const std::vector<AlertRecordPtr> batch = {make_record(std::move(alert), event, "svc")};
  EXPECT_EQ(out->send(batch).delivered, 1U);
  Peer peer(listener.accept());
  ASSERT_TRUE(peer.ok());
  const auto lines = peer.lines(1);
  ASSERT_EQ(lines.size(), 1U);
  const auto o = parse(lines[0]);  // Boost.JSON rejects invalid UTF-8
  EXPECT_EQ(text(o.at("pot_id")), "svc");
  EXPECT_EQ(text(o.at("data").at("request")), "a\"b\\c\nd\r\x01\xEF\xBF\xBD}\n{\"pot_id\":\"evil\"}");
}

TEST_F(HoneybeeTest, ReconnectsWhenTheNodeClosedTheConnection) {
  Listener listener;
  auto out = make({{"port", Value{std::int64_t{listener.port()}}}, {"pot_id", Value{std::string("p")}}});
  EXPECT_EQ(out->send(records(1, 8, 0)).delivered, 1U);
  {
    Peer first(listener.accept());
    ASSERT_TRUE(first.ok());
    const auto lines = first.lines(1);
    ASSERT_EQ(lines.size(), 1U);
    EXPECT_EQ(n_of(lines[0]), 0);
  }  // the "node" closes the connection after the first line

  const auto r = out->send(records(2, 8, 1));
  EXPECT_EQ(r.delivered, 2U) << r.error;
  EXPECT_EQ(r.error, "");
  Peer second(listener.accept());
  ASSERT_TRUE(second.ok()) << "no new connection";
  const auto lines = second.lines(2);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(n_of(lines[0]), 1);
  EXPECT_EQ(n_of(lines[1]), 2);
}

TEST_F(HoneybeeTest, NothingListeningFailsWithoutDeliveringOrThrowing) {
  const int port = closed_port();
  auto out = make({{"port", Value{std::int64_t{port}}}, {"timeout", Value{std::int64_t{1}}}});
  SendResult r;
  EXPECT_NO_THROW(r = out->send(records(3)));
  EXPECT_EQ(r.delivered, 0U);
  EXPECT_NE(r.error.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.error;
  // And again (the pipeline retries): still a clean failure.
  EXPECT_NO_THROW(r = out->send(records(1)));
  EXPECT_EQ(r.delivered, 0U);
  EXPECT_FALSE(r.error.empty());
}

// A node that stops reading: each write times out, the integration retries
// once on a new connection from the first line not completely written, then
// reports exactly the lines it wrote.
TEST_F(HoneybeeTest, StalledNodeTimesOutAndCountsWholeLinesWritten) {
  Listener listener;
  auto out = make({{"port", Value{std::int64_t{listener.port()}}}, {"timeout", Value{std::int64_t{1}}}});
  const auto batch = records(4000, 8000);  // ~32 MB: more than two connections' socket buffers
  const auto r = out->send(batch);
  ASSERT_LT(r.delivered, batch.size());
  EXPECT_GT(r.delivered, 0U);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;

  Peer first(listener.accept());
  Peer second(listener.accept());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok()) << "no retry on a new connection";
  const auto [first_lines, first_rest] = first.until_eof();
  const auto [second_lines, second_rest] = second.until_eof();
  ASSERT_FALSE(first_lines.empty());
  ASSERT_FALSE(second_lines.empty());
  EXPECT_EQ(first_lines.size() + second_lines.size(), r.delivered);
  EXPECT_EQ(n_of(first_lines.front()), 0);
  EXPECT_EQ(n_of(first_lines.back()), static_cast<std::int64_t>(first_lines.size()) - 1);
  // The retry starts with the line the first connection did not complete.
  EXPECT_EQ(n_of(second_lines.front()), static_cast<std::int64_t>(first_lines.size()));
  EXPECT_EQ(n_of(second_lines.back()), static_cast<std::int64_t>(r.delivered) - 1);
}

TEST_F(HoneybeeTest, TestConnectionNamesTheEndpoint) {
  Listener listener;
  auto ok = make({{"port", Value{std::int64_t{listener.port()}}}});
  const auto good = ok->test_connection();
  EXPECT_TRUE(good.success) << good.response;
  EXPECT_NE(good.response.find("127.0.0.1:" + std::to_string(listener.port())), std::string::npos) << good.response;
  Peer peer(listener.accept());
  EXPECT_TRUE(peer.ok()) << "test_connection did not connect";

  const int port = closed_port();
  auto bad = make({{"port", Value{std::int64_t{port}}}, {"timeout", Value{std::int64_t{1}}}});
  const auto failed = bad->test_connection();
  EXPECT_FALSE(failed.success);
  EXPECT_NE(failed.response.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << failed.response;
}

TEST_F(HoneybeeTest, InvalidEventPortInTheEnvironmentMeans9100) {
  ::setenv("HONEYBEE_EVENT_PORT", "70000", 1);
  auto out = make({{"timeout", Value{std::int64_t{1}}}});
  const auto r = out->test_connection();
  EXPECT_NE(r.response.find("127.0.0.1:9100"), std::string::npos) << r.response;
}

}  // namespace
}  // namespace honeycomb::pipeline
