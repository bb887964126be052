// Connection-per-event load for the node's event port, as the seed's
// helpers and HonnyPotter send: connect, one line, close. Uses the C++
// client header honeypot authors get (clients/cpp/honeybee_client.hpp).
//   honeycomb_bench_per_event PORT EVENTS
#include "../../clients/cpp/honeybee_client.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PORT EVENTS\n", argv[0]);
    return 2;
  }
  honeybee::Options options;
  options.port = std::atoi(argv[1]);
  options.timeout_ms = 5000;
  const long events = std::atol(argv[2]);
  long failed = 0;
  for (long i = 0; i < events; ++i) {
    const bool ok = honeybee::send_event(
        "bench.per_event",
        {{"n", static_cast<long long>(i)}, {"src_ip", "198.51.100.7"}, {"username", "root"}, {"password", "123456"}},
        options);
    failed += ok ? 0 : 1;
  }
  std::printf("%ld\n", failed);
  return failed == 0 ? 0 : 1;
}
