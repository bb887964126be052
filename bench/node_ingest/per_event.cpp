// Connection-per-event load for the node's event port, as the seed's
// helpers and HonnyPotter send: connect, one line, close. Uses the C++
// client header honeypot authors get (clients/cpp/honeybee_client.hpp).
//   honeycomb_bench_per_event PORT EVENTS [ADDRESSES]
//       send EVENTS events, print failures; connection i goes to
//       127.0.0.(1 + i % ADDRESSES) [1]
//   honeycomb_bench_per_event serve EVENTS [ADDRESSES]
//       the baseline receiver: print its port, then the seconds from the
//       first accept to EVENTS lines read; listens on 127.0.0.1, or on every
//       address when ADDRESSES > 1
// Why several addresses: the client closes first, so each connection holds
// its 4-tuple in TIME_WAIT for 60 s, and the loopback has 28,232 ephemeral
// ports per (source, destination) pair. One destination caps a burst far
// below what the receiver can take (docs/BENCHMARKS.md); honeypots in
// containers send from addresses of their own for the same reason.
// The baseline is the least any receiver must do for this load — one epoll
// thread that accepts, reads to end of stream and closes, parsing nothing —
// so the node's figure can be given as a ratio measured in the same run.
#include "../../clients/cpp/honeybee_client.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

int serve(long events, bool every_address) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(every_address ? INADDR_ANY : INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener, 4096) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("baseline listener");
    return 1;
  }
  std::printf("%d\n", ntohs(address.sin_port));
  std::fflush(stdout);

  const int poller = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event registration{};
  registration.events = EPOLLIN;
  registration.data.fd = listener;
  ::epoll_ctl(poller, EPOLL_CTL_ADD, listener, &registration);

  std::array<epoll_event, 256> ready{};
  std::array<char, 65536> buffer{};
  long lines = 0;
  std::chrono::steady_clock::time_point start;
  bool started = false;
  while (lines < events) {
    const int n = ::epoll_wait(poller, ready.data(), static_cast<int>(ready.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[static_cast<std::size_t>(i)].data.fd;
      if (fd == listener) {
        for (int peer; (peer = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          if (!started) {
            start = std::chrono::steady_clock::now();
            started = true;
          }
          epoll_event interest{};
          interest.events = EPOLLIN | EPOLLRDHUP;
          interest.data.fd = peer;
          ::epoll_ctl(poller, EPOLL_CTL_ADD, peer, &interest);
        }
        continue;
      }
      for (;;) {
        const ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got > 0) {
          lines += std::count(buffer.data(), buffer.data() + got, '\n');
          continue;
        }
        if (got == 0 || errno != EAGAIN) {
          ::close(fd);  // also leaves the epoll set
        }
        break;
      }
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("%.6f\n", elapsed.count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s PORT EVENTS [ADDRESSES] | serve EVENTS [ADDRESSES]\n", argv[0]);
    return 2;
  }
  const long addresses = std::clamp(argc == 4 ? std::atol(argv[3]) : 1L, 1L, 254L);
  if (std::strcmp(argv[1], "serve") == 0) {
    return serve(std::atol(argv[2]), addresses > 1);
  }
  std::vector<std::string> hosts;
  for (long a = 1; a <= addresses; ++a) {
    hosts.push_back("127.0.0." + std::to_string(a));
  }
  honeybee::Options options;
  options.port = std::atoi(argv[1]);
  options.timeout_ms = 5000;
  const long events = std::atol(argv[2]);
  long failed = 0;
  for (long i = 0; i < events; ++i) {
    options.host = hosts[static_cast<std::size_t>(i % addresses)];
    const bool ok = honeybee::send_event(
        "bench.per_event",
        {{"n", static_cast<long long>(i)}, {"src_ip", "198.51.100.7"}, {"username", "root"}, {"password", "123456"}},
        options);
    failed += ok ? 0 : 1;
  }
  std::printf("%ld\n", failed);
  return failed == 0 ? 0 : 1;
}
