// honeybee: every alert as one JSON line in the HoneyBee event shape
//   {"pot_id":…,"pot_type":…,"event_type":…,"timestamp":…,"data":{the record}}
// written to a HoneyBee node's event port, so that a service the node runs
// has one event path. One persistent TCP connection, opened lazily; every
// connect and write is bounded by `timeout`; a batch is one buffer.
#include "common/json_text.hpp"
#include "pipeline/integration.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace honeycomb::integrations {
namespace {

using pipeline::AlertRecord;
using pipeline::AlertRecordPtr;
using pipeline::SendResult;
using pipeline::TestResult;
using Clock = std::chrono::steady_clock;

// The node's event port when neither `port` nor $HONEYBEE_EVENT_PORT says.
constexpr int default_event_port = 9100;
// Caps one buffer so that a large backlog neither doubles memory nor turns
// one failure into a resend of everything.
constexpr std::size_t max_write = std::size_t{1024} * 1024;
// The pot_id/pot_type of last resort (no parameter, no environment, no
// service name on the record).
constexpr std::string_view fallback_name = "honeycomb";

std::string env_string(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string errno_text(int e) {
  return std::strerror(e);
}

struct Settings {
  std::string address;
  int port = default_event_port;
  std::chrono::milliseconds timeout{5000};
  std::string pot_id;    // empty: the record's service name
  std::string pot_type;  // empty: the record's service name

  [[nodiscard]] std::string endpoint() const {
    const bool ipv6 = address.find(':') != std::string::npos;
    return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  }
};

/// Milliseconds left until `deadline` (0 when passed), for poll().
int left_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 300'000));
}

/// One non-blocking TCP connection; every step is bounded by a deadline.
class Connection {
 public:
  explicit Connection(const Settings& settings) : settings_(settings) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] bool is_open() const { return fd_ >= 0; }

  /// Resolves and connects; an error text or empty.
  std::string open() {
    close();
    const auto deadline = Clock::now() + settings_.timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    // Resolution is synchronous: getaddrinfo() has its own timeouts
    // (resolv.conf), and an IP address resolves without any I/O.
    const int rc = ::getaddrinfo(settings_.address.c_str(), std::to_string(settings_.port).c_str(), &hints, &found);
    if (rc != 0) {
      return "cannot resolve " + settings_.address + ": " + ::gai_strerror(rc);
    }
    std::string why = "no address";
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      why = connect_one(*ai, deadline);
      if (why.empty()) {
        break;
      }
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) {
      return "cannot connect to " + settings_.endpoint() + ": " + why +
             (why == errno_text(ECONNREFUSED) ? " (is the HoneyBee node running?)" : "");
    }
    return {};
  }

  /// Writes `data` until all of it is written, the peer fails or `timeout`
  /// passes. Returns the bytes written and an error text (empty on success);
  /// after an error the connection must be closed.
  std::pair<std::size_t, std::string> write(std::string_view data) {
    const auto deadline = Clock::now() + settings_.timeout;
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return {off, "cannot write to " + settings_.endpoint() + ": " + errno_text(errno)};
      }
      pollfd p{fd_, POLLOUT, 0};
      const int ready = ::poll(&p, 1, left_ms(deadline));
      if (ready == 0) {
        return {off, "cannot write to " + settings_.endpoint() + ": timed out after " +
                         std::to_string(settings_.timeout.count() / 1000) + " s (is the node reading?)"};
      }
      if (ready < 0 && errno != EINTR) {
        return {off, "cannot write to " + settings_.endpoint() + ": " + errno_text(errno)};
      }
    }
    return {off, {}};
  }

  /// True when the node has closed or reset the connection. The node never
  /// answers on the event port, so anything readable is the end of the
  /// stream. Checking before a write avoids losing a batch into a dead
  /// connection (the first write after a node restart would "succeed").
  bool peer_closed() {
    if (fd_ < 0) {
      return false;
    }
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) {
      return false;
    }
    if ((p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0) {
      return true;
    }
    std::array<char, 512> sink{};
    for (;;) {
      const ssize_t n = ::recv(fd_, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n > 0) {
        continue;  // unexpected bytes: discarded
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
  }

  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  // Connects to one resolved address; an error text or empty.
  std::string connect_one(const addrinfo& ai, Clock::time_point deadline) {
    const int fd = ::socket(ai.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return errno_text(errno);
    }
    int rc = ::connect(fd, ai.ai_addr, ai.ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      do {
        rc = ::poll(&p, 1, left_ms(deadline));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) {
        ::close(fd);
        return "timed out after " + std::to_string(settings_.timeout.count() / 1000) + " s";
      }
      int error = 0;
      socklen_t len = sizeof error;
      if (rc < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
        error = errno;
      }
      errno = error;
      rc = error == 0 ? 0 : -1;
    }
    if (rc != 0) {
      const int error = errno;
      ::close(fd);
      return errno_text(error);
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    fd_ = fd;
    return {};
  }

  const Settings& settings_;
  int fd_ = -1;
};

class HoneybeeIntegration final : public pipeline::Integration {
 public:
  explicit HoneybeeIntegration(const pipeline::IntegrationContext& c) : logger_(c.logger), connection_(settings_) {
    settings_.address = c.args.get("address", "127.0.0.1");
    if (settings_.address.empty()) {
      settings_.address = "127.0.0.1";
    }
    settings_.port = static_cast<int>(c.args.get<std::int64_t>("port", 0));
    if (settings_.port < 0 || settings_.port > 65535) {
      throw std::invalid_argument("port must be from 0 to 65535 (got " + std::to_string(settings_.port) + ")");
    }
    if (settings_.port == 0) {
      settings_.port = event_port_from_env();
    }
    settings_.timeout = std::chrono::seconds(std::clamp<std::int64_t>(c.args.get<std::int64_t>("timeout", 5), 1, 300));
    settings_.pot_id = c.args.get("pot_id", "");
    if (settings_.pot_id.empty()) {
      settings_.pot_id = env_string("HONEYBEE_POT_ID");
    }
    settings_.pot_type = c.args.get("pot_type", "");
    if (settings_.pot_type.empty()) {
      settings_.pot_type = env_string("HONEYBEE_HONEYPOT_TYPE");
    }
  }
  ~HoneybeeIntegration() override = default;
  HoneybeeIntegration(const HoneybeeIntegration&) = delete;
  HoneybeeIntegration& operator=(const HoneybeeIntegration&) = delete;

  SendResult send(std::span<const AlertRecordPtr> batch) override {
    std::size_t done = 0;
    bool retried = false;
    while (done < batch.size()) {
      // One buffer of whole lines; ends_[i] is where line done+i ends.
      buffer_.clear();
      ends_.clear();
      std::size_t end = done;
      while (end < batch.size() && buffer_.size() < max_write) {
        append_line(buffer_, *batch[end]);
        ends_.push_back(buffer_.size());
        ++end;
      }
      std::size_t offset = 0;
      while (offset < buffer_.size()) {
        const std::size_t written = lines_written(offset);
        if (auto error = ensure_connected(); !error.empty()) {
          return {done + written, error};
        }
        auto [n, error] = connection_.write(std::string_view(buffer_).substr(offset));
        offset += n;
        if (error.empty()) {
          break;
        }
        // The node may have lost what the dead connection held; a line cut
        // in the middle is sent again whole on a new connection, once.
        connection_.close();
        const std::size_t complete = lines_written(offset);
        if (retried) {
          return {done + complete, error};
        }
        retried = true;
        logger_->warn("{}; reconnecting to send again", error);
        offset = complete == 0 ? 0 : ends_[complete - 1];
      }
      done = end;
    }
    if (buffer_.capacity() > 2 * max_write) {
      std::string().swap(buffer_);
    }
    return {done, {}};
  }

  TestResult test_connection() override {
    Connection c(settings_);
    if (auto error = c.open(); !error.empty()) {
      return {false, error};
    }
    return {true, "connected to the HoneyBee node's event port at " + settings_.endpoint() + " (nothing sent; pot_id " +
                      name_or(settings_.pot_id, "the service's name") + ", pot_type " +
                      name_or(settings_.pot_type, "the service's name") + ")"};
  }

 private:
  static int event_port_from_env() {
    const std::string raw = env_string("HONEYBEE_EVENT_PORT");
    int port = 0;
    const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), port);
    if (raw.empty() || ec != std::errc() || end != raw.data() + raw.size() || port <= 0 || port > 65535) {
      return default_event_port;
    }
    return port;
  }

  static std::string name_or(const std::string& name, std::string_view otherwise) {
    return name.empty() ? std::string(otherwise) : "'" + name + "'";
  }

  // The name for an empty pot_id/pot_type: the service's, else "honeycomb".
  static std::string_view name_for(const std::string& configured, const AlertRecord& r) {
    if (!configured.empty()) {
      return configured;
    }
    return r.service.empty() ? fallback_name : std::string_view(r.service);
  }

  void append_line(std::string& out, const AlertRecord& r) const {
    out += R"({"pot_id":)";
    json_text::append_string(out, name_for(settings_.pot_id, r));
    out += R"(,"pot_type":)";
    json_text::append_string(out, name_for(settings_.pot_type, r));
    out += R"(,"event_type":)";
    json_text::append_string(out, r.event_type);
    out += R"(,"timestamp":)";
    json_text::append_string(out, r.timestamp.empty() ? pipeline::iso8601_now() : r.timestamp);
    // The record is already one JSON object, rendered (escaped, valid
    // UTF-8) by make_record.
    out += R"(,"data":)";
    out += r.json.empty() ? std::string_view("{}") : std::string_view(r.json);
    out += "}\n";
  }

  // How many lines of buffer_ end at or before `offset`.
  [[nodiscard]] std::size_t lines_written(std::size_t offset) const {
    return static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), offset) - ends_.begin());
  }

  std::string ensure_connected() {
    if (connection_.is_open() && connection_.peer_closed()) {
      logger_->info("{} closed the connection; reconnecting", settings_.endpoint());
      connection_.close();
    }
    if (connection_.is_open()) {
      return {};
    }
    std::string error = connection_.open();
    if (error.empty()) {
      logger_->info("connected to {}", settings_.endpoint());
    }
    return error;
  }

  std::shared_ptr<spdlog::logger> logger_;
  Settings settings_;
  Connection connection_;  // after settings_, which it refers to
  std::string buffer_;
  std::vector<std::size_t> ends_;
};

}  // namespace
}  // namespace honeycomb::integrations

HONEYCOMB_INTEGRATION(honeycomb::integrations::HoneybeeIntegration, "honeybee")
