// node_flood: N simulated nodes flooding a honeycomb core with PotEvents
// (Protocol v2), for bench/core_ingest/run.sh and bench/core_memory/run.sh.
//
// Each connection registers as a node (NodeRegistration, waits for the
// RegistrationAck), then writes PotEvent envelopes as fast as the socket
// takes them. The envelopes are rendered before the first connection from
// the real Cowrie records in tests/data/event-port/ (src_ip, src_port,
// username, password, session, message, timestamps varied): a pool of
// --variants lines, each with fixed-width holes for the node id and the
// event id. Sending is a memcpy of pool lines into a 512 KiB buffer plus
// patching those digits and the event time, so the generator costs little
// CPU next to the core. Event times advance 1 ms per event per node from the
// generator's start (node k's j-th event at start + j ms + k us), as on live
// sensors: the store's time index grows at its end.
//
// Ids: node k (0-based) is node_id = --node-id-base + k (10 digits); its
// j-th event (0-based) has event_id "bench-<node_id>-<j, 12 digits>", so a
// checker can recompute any id.
//
// Output on stdout, key=value lines: registered, sent, bytes, first_byte_us,
// last_write_us (unix microseconds: first byte of the first PotEvent, last
// write completed), gen_cpu_s, errors. With --hold the connections stay
// open after sending (and after "ready" is printed) until SIGINT/SIGTERM;
// a node done sending sends a NodeStatusUpdate every --heartbeat seconds
// (20; 0: never) so that the core does not close it as silent.
//
//   honeycomb_node_flood --port 9001 --nodes 8 --events-per-node 250000
//   honeycomb_node_flood --port 9001 --nodes 10000 --events-per-node 0 --hold
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/json/src.hpp>  // header-only Boost.JSON: this tool links Boost::headers only

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9001;
  std::size_t nodes = 8;
  std::uint64_t events_per_node = 250'000;
  std::uint64_t seed = 1;
  std::uint64_t node_id_base = 1'000'000'000;
  std::size_t variants = 4096;
  std::size_t max_connecting = 256;
  bool hold = false;
  int heartbeat_s = 20;  // NodeStatusUpdate interval once a node has sent its events
  std::string samples = "tests/data/event-port/cowrie-honeybee-output.jsonl";
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Writes `value` as exactly `width` decimal digits at `out`.
void put_digits(char* out, std::uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

constexpr const char* kNodeHole = "9999999999";  // 10 digits
constexpr int kNodeDigits = 10;
constexpr int kSeqDigits = 12;

// One rendered envelope line with the offsets of its holes.
struct Line {
  std::string text;
  std::size_t node_at[2] = {0, 0};  // envelope node_id, event_id's node part
  std::size_t seq_at = 0;           // event_id's sequence part
  std::size_t ts_at[2] = {0, 0};    // envelope timestamp, data.timestamp (27 characters each)
};

std::string fmt_time(std::int64_t us) {
  const std::time_t s = us / 1'000'000;
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us % 1'000'000));
  return buf;
}

std::vector<Line> render_pool(const Options& o) {
  std::vector<json::object> samples;
  std::ifstream in(o.samples);
  if (!in) {
    throw std::runtime_error("cannot read " + o.samples + " (run from the repository root or pass --samples)");
  }
  for (std::string l; std::getline(in, l);) {
    if (l.empty()) continue;
    auto v = json::parse(l);
    if (v.is_object() && v.as_object().contains("eventid")) samples.push_back(v.as_object());
  }
  if (samples.empty()) throw std::runtime_error("no Cowrie records in " + o.samples);

  static const char* users[] = {"root", "admin", "user", "test", "ubuntu", "oracle", "pi", "git", "postgres", "guest",
                                "support", "ftp", "deploy", "centos", "hadoop", "nagios"};
  static const char* passwords[] = {"123456", "password", "admin", "root", "12345678", "qwerty", "1234", "letmein",
                                    "P@ssw0rd", "raspberry", "toor", "changeme", "111111", "abc123", "welcome1",
                                    "dragon"};
  std::mt19937_64 rng(o.seed);
  // Source addresses: Zipf-like over 50k addresses (a few very busy scanners,
  // a long tail seen once or twice).
  std::vector<double> cdf;
  const std::size_t n_addr = 50'000;
  cdf.reserve(n_addr);
  double acc = 0;
  for (std::size_t i = 1; i <= n_addr; ++i) cdf.push_back(acc += 1.0 / static_cast<double>(i));
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  auto pick_ip = [&] {
    const auto i = static_cast<std::uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u01(rng) * acc) - cdf.begin());
    const std::uint32_t h = (i * 2654435761u) ^ 0x5bd1e995u;  // spread over the address space
    return std::to_string(1 + (h >> 24) % 223) + "." + std::to_string((h >> 16) & 255) + "." +
           std::to_string((h >> 8) & 255) + "." + std::to_string(1 + (h & 255) % 254);
  };
  const std::int64_t base_us = 1'796'032'800'000'000;  // 2026-11-30T10:00:00Z

  std::vector<Line> pool;
  pool.reserve(o.variants);
  for (std::size_t i = 0; i < o.variants; ++i) {
    json::object r = samples[rng() % samples.size()];
    const std::string eventid(r["eventid"].as_string());
    const std::string ip = pick_ip();
    const auto sport = static_cast<std::int64_t>(1024 + rng() % 64000);
    char session[13];
    std::snprintf(session, sizeof session, "%012llx", static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    const std::int64_t t_us = base_us + static_cast<std::int64_t>(i) * 1000 + static_cast<std::int64_t>(rng() % 1000);
    const std::string ts = fmt_time(t_us);
    r["src_ip"] = ip;
    r["session"] = session;
    r["timestamp"] = ts;
    r["time"] = static_cast<double>(t_us) / 1e6;
    r["sensor"] = "sensor-" + std::to_string(rng() % 8);
    if (r.contains("src_port")) r["src_port"] = sport;
    if (r.contains("username")) {
      const std::string user = users[rng() % std::size(users)];
      const std::string pass = passwords[rng() % std::size(passwords)];
      r["username"] = user;
      r["password"] = pass;
      r["message"] = "login attempt [" + user + "/" + pass + "] " +
                     (eventid == "cowrie.login.success" ? "succeeded" : "failed");
    }
    if (eventid == "cowrie.session.connect") {
      r["message"] = "New connection: " + ip + ":" + std::to_string(sport) + " (10.0.0.5:22) [session: " + session + "]";
      r["dst_ip"] = "10.0.0.5";
      r["dst_port"] = 22;
    }
    std::string s = R"({"version":2,"message":{"PotEvent":{"node_id":)";
    Line line;
    line.node_at[0] = s.size();
    s += kNodeHole;
    s += R"(,"pot_id":"cowrie-01","pot_type":"cowrie","event_type":)";
    s += json::serialize(json::value(eventid));
    s += R"(,"timestamp":")";
    line.ts_at[0] = s.size();
    s += ts + R"(","event_id":"bench-)";
    line.node_at[1] = s.size();
    s += kNodeHole;
    s += '-';
    line.seq_at = s.size();
    s += std::string(kSeqDigits, '0');
    s += R"(","data":)";
    const std::string data = json::serialize(r);
    const auto ts_in_data = data.find(R"("timestamp":")" + ts + "\"");
    if (ts_in_data == std::string::npos) throw std::runtime_error("timestamp not found in a rendered record");
    line.ts_at[1] = s.size() + ts_in_data + 13;
    s += data;
    s += "}}}\n";
    line.text = std::move(s);
    pool.push_back(std::move(line));
  }
  return pool;
}

struct Stats {
  std::size_t registered = 0;
  std::size_t finished = 0;   // connections done sending
  std::size_t errors = 0;
  std::uint64_t sent = 0;
  std::uint64_t bytes = 0;
  std::int64_t first_byte_us = 0;
  std::int64_t last_write_us = 0;
};

class Flood;

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Flood& f, std::size_t index);
  void start();

 private:
  void on_connect(const boost::system::error_code& ec);
  void on_ack(const boost::system::error_code& ec, std::size_t n);
  void fill_and_write();
  void read_forever();
  void fail(const char* what, const boost::system::error_code& ec);
  void heartbeat();

  Flood& f_;
  std::size_t index_;
  std::uint64_t node_id_;
  tcp::socket sock_;
  std::string rbuf_;
  std::vector<char> wbuf_;
  std::uint64_t next_ = 0;  // next event sequence number
  std::array<char, 4096> sink_{};
  asio::steady_timer timer_;
  std::string hb_;
  bool done_ = false;
  std::int64_t ts_sec_ = -1;
  std::string ts_text_;
};

class Flood {
 public:
  Flood(asio::io_context& io, Options o, std::vector<Line> pool) : io_(io), o_(std::move(o)), pool_(std::move(pool)) {}

  void run() {
    endpoint_ = tcp::endpoint(asio::ip::make_address(o_.host), o_.port);
    for (std::size_t i = 0; i < o_.nodes && i < o_.max_connecting; ++i) start_next();
    if (o_.nodes == 0) maybe_ready();
  }

  void start_next() {
    if (launched_ >= o_.nodes) return;
    auto c = std::make_shared<Conn>(*this, launched_++);
    conns_.push_back(c);
    c->start();
  }
  // A connection registered (or failed to): the next one may start.
  void registration_done() {
    start_next();
    maybe_ready();
  }
  void sending_done() {
    ++stats_.finished;
    maybe_ready();
  }
  void maybe_ready() {
    if (ready_printed_ || stats_.finished + stats_.errors < o_.nodes) return;
    ready_printed_ = true;
    print();
    std::cout << "ready=1" << std::endl;
    if (!o_.hold) io_.stop();
  }
  void print() const {
    std::cout << "registered=" << stats_.registered << "\nsent=" << stats_.sent << "\nbytes=" << stats_.bytes
              << "\nfirst_byte_us=" << stats_.first_byte_us << "\nlast_write_us=" << stats_.last_write_us
              << "\ngen_cpu_s=" << cpu_seconds() << "\nerrors=" << stats_.errors << std::endl;
  }

  asio::io_context& io_;
  Options o_;
  std::vector<Line> pool_;
  tcp::endpoint endpoint_;
  Stats stats_;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::size_t launched_ = 0;
  std::int64_t start_us_ = (now_us() / 1'000'000) * 1'000'000;
  bool ready_printed_ = false;
};

Conn::Conn(Flood& f, std::size_t index)
    : f_(f), index_(index), node_id_(f.o_.node_id_base + index), sock_(f.io_), timer_(f.io_) {}

// An idle node still sends a NodeStatusUpdate now and then, as a real node's
// heartbeat does: the core closes nodes silent for three heartbeat intervals.
void Conn::heartbeat() {
  if (f_.o_.heartbeat_s <= 0) return;
  timer_.expires_after(std::chrono::seconds(f_.o_.heartbeat_s));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    self->hb_ = R"({"version":2,"message":{"NodeStatusUpdate":{"node_id":)" + std::to_string(self->node_id_) +
                R"(,"status":"Running"}}})" + "\n";
    asio::async_write(self->sock_, asio::buffer(self->hb_), [self](const boost::system::error_code& e, std::size_t) {
      if (!e) self->heartbeat();
    });
  });
}

void Conn::start() {
  sock_.async_connect(f_.endpoint_, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->on_connect(ec);
  });
}

void Conn::fail(const char* what, const boost::system::error_code& ec) {
  if (done_) return;
  done_ = true;
  ++f_.stats_.errors;
  std::cerr << "node_flood: node " << node_id_ << ": " << what << ": " << ec.message() << "\n";
  f_.registration_done();
}

void Conn::on_connect(const boost::system::error_code& ec) {
  if (ec) return fail("connect", ec);
  sock_.set_option(tcp::no_delay(true));
  auto reg = std::make_shared<std::string>(
      R"({"version":2,"message":{"NodeRegistration":{"node_id":)" + std::to_string(node_id_) +
      R"(,"node_name":"bench-)" + std::to_string(index_) +
      R"(","address":"127.0.0.1","port":9100,"node_type":"Full"}}})" + "\n");
  asio::async_write(sock_, asio::buffer(*reg), [self = shared_from_this(), reg](const boost::system::error_code& e,
                                                                                std::size_t) {
    if (e) return self->fail("write registration", e);
    asio::async_read_until(self->sock_, asio::dynamic_buffer(self->rbuf_), '\n',
                           [self](const boost::system::error_code& e2, std::size_t n) { self->on_ack(e2, n); });
  });
}

void Conn::on_ack(const boost::system::error_code& ec, std::size_t n) {
  if (ec) return fail("read RegistrationAck", ec);
  const std::string ack = rbuf_.substr(0, n);
  rbuf_.erase(0, n);
  if (ack.find("RegistrationAck") == std::string::npos || ack.find("\"accepted\":true") == std::string::npos) {
    done_ = true;
    ++f_.stats_.errors;
    std::cerr << "node_flood: node " << node_id_ << " not accepted: " << ack;
    f_.registration_done();
    return;
  }
  ++f_.stats_.registered;
  read_forever();
  f_.registration_done();
  if (f_.o_.events_per_node == 0) {
    f_.sending_done();
    heartbeat();
    return;
  }
  wbuf_.reserve(512 * 1024 + 64 * 1024);
  fill_and_write();
}

// Whatever the core sends (commands) is read and discarded, so that its
// writes never block on us.
void Conn::read_forever() {
  sock_.async_read_some(asio::buffer(sink_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                         std::size_t) {
    if (ec) {
      if (!self->done_ || self->f_.o_.hold) {
        if (ec != asio::error::operation_aborted) {
          std::cerr << "node_flood: node " << self->node_id_ << ": core closed the connection: " << ec.message()
                    << "\n";
        }
      }
      return;
    }
    self->read_forever();
  });
}

void Conn::fill_and_write() {
  const auto& pool = f_.pool_;
  const std::uint64_t total = f_.o_.events_per_node;
  wbuf_.clear();
  const std::uint64_t first = next_;
  while (next_ < total && wbuf_.size() < 512 * 1024) {
    const Line& l = pool[(index_ * 7919 + next_) % pool.size()];
    const std::size_t at = wbuf_.size();
    wbuf_.insert(wbuf_.end(), l.text.begin(), l.text.end());
    char* p = wbuf_.data() + at;
    put_digits(p + l.node_at[0], node_id_, kNodeDigits);
    put_digits(p + l.node_at[1], node_id_, kNodeDigits);
    put_digits(p + l.seq_at, next_, kSeqDigits);
    // Event times advance as on a live sensor: node k's j-th event happens
    // at start + j ms + k us, so the store's time index grows at its end.
    const std::int64_t t_us = f_.start_us_ + static_cast<std::int64_t>(next_) * 1000 + static_cast<std::int64_t>(index_);
    if (t_us / 1'000'000 != ts_sec_) {
      ts_sec_ = t_us / 1'000'000;
      ts_text_ = fmt_time(t_us);
    }
    std::memcpy(ts_text_.data() + 20, "000000", 6);
    put_digits(ts_text_.data() + 20, static_cast<std::uint64_t>(t_us % 1'000'000), 6);
    std::memcpy(p + l.ts_at[0], ts_text_.data(), 26);
    std::memcpy(p + l.ts_at[1], ts_text_.data(), 26);
    ++next_;
  }
  const std::uint64_t count = next_ - first;
  if (f_.stats_.first_byte_us == 0) f_.stats_.first_byte_us = now_us();
  asio::async_write(sock_, asio::buffer(wbuf_),
                    [self = shared_from_this(), count](const boost::system::error_code& ec, std::size_t n) {
                      if (ec) return self->fail("write events", ec);
                      auto& st = self->f_.stats_;
                      st.sent += count;
                      st.bytes += n;
                      st.last_write_us = now_us();
                      if (self->next_ < self->f_.o_.events_per_node) {
                        self->fill_and_write();
                      } else {
                        self->done_ = true;
                        self->wbuf_ = {};
                        self->f_.sending_done();
                        self->heartbeat();
                      }
                    });
}

[[noreturn]] void usage(const char* msg) {
  std::cerr << "node_flood: " << msg
            << "\nusage: honeycomb_node_flood [--host 127.0.0.1] [--port 9001] [--nodes 8] [--events-per-node 250000]"
               " [--seed 1] [--node-id-base 1000000000] [--variants 4096] [--max-connecting 256] [--hold] [--heartbeat 20]"
               " [--samples tests/data/event-port/cowrie-honeybee-output.jsonl]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--host") o.host = val();
    else if (a == "--port") o.port = static_cast<std::uint16_t>(std::stoul(val()));
    else if (a == "--nodes") o.nodes = std::stoull(val());
    else if (a == "--events-per-node") o.events_per_node = std::stoull(val());
    else if (a == "--seed") o.seed = std::stoull(val());
    else if (a == "--node-id-base") o.node_id_base = std::stoull(val());
    else if (a == "--variants") o.variants = std::max<std::size_t>(1, std::stoull(val()));
    else if (a == "--max-connecting") o.max_connecting = std::max<std::size_t>(1, std::stoull(val()));
    else if (a == "--samples") o.samples = val();
    else if (a == "--hold") o.hold = true;
    else if (a == "--heartbeat") o.heartbeat_s = std::stoi(val());
    else usage(("unknown option " + a).c_str());
  }
  if (o.node_id_base + o.nodes > 9'999'999'999ULL || o.node_id_base < 1'000'000'000ULL) {
    usage("node ids must have 10 digits (--node-id-base 1000000000..)");
  }
  try {
    auto pool = render_pool(o);
    std::size_t avg = 0;
    for (const auto& l : pool) avg += l.text.size();
    std::cerr << "node_flood: " << pool.size() << " envelope variants, " << avg / pool.size() << " bytes on average; "
              << o.nodes << " nodes x " << o.events_per_node << " events -> " << o.host << ":" << o.port << "\n";
    asio::io_context io(1);
    Flood flood(io, o, std::move(pool));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      if (!flood.ready_printed_) flood.print();
      io.stop();
    });
    flood.run();
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "node_flood: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
