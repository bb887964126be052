// The SSH side of the ssh honeypot: libssh servers for every connection,
// all on one thread of their own (libssh's poll loop: its calls block, so
// they stay off the I/O thread). Each connection reaches the engine as one
// end of a socket pair whose other end the I/O thread joins to the attacker
// (ssh_service.cpp); the engine records logins, runs the fake shell and
// answers exec requests.
#pragma once

#include "honeypot/connection_gate.hpp"
#include "honeypot/login_policy.hpp"
#include "honeypot/ssh_hello.hpp"
#include "honeypot/tcp_server.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace honeycomb::services::ssh {

/// One attacker connection, shared by the proxy coroutine (I/O thread) and
/// the engine; whichever lets go of it last reports the disconnect.
struct Connection {
  honeypot::Peer peer;
  honeypot::ConnectionGate::SourceKey source{};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  /// The proxy writes these before it forwards the bytes that make libssh
  /// call the engine back; the mutex orders the two threads.
  mutable std::mutex mutex;
  honeypot::SshClientHello hello;
  std::string engine_reason;  ///< why the engine ended it ("logout"...), if it did
  std::string proxy_reason;   ///< why the proxy ended it ("closed by client"...)
  std::uint64_t bytes_in = 0;

  std::atomic<std::int64_t> login_attempts{0};
  std::atomic<std::int64_t> commands{0};
  std::atomic<int> holders{2};  ///< the proxy and the engine

  [[nodiscard]] honeypot::SshClientHello client_hello() const {
    std::lock_guard lock(mutex);
    return hello;
  }
};

struct EngineSettings {
  std::string version;  ///< after "SSH-2.0-"
  std::string hostname;
  std::uint64_t seed = 0;
  std::int64_t max_attempts = 6;
  int auth_methods = 0;  ///< SSH_AUTH_METHOD_* bits offered
  std::size_t max_line = 4096;
  std::vector<std::filesystem::path> host_keys;  ///< from ensure_host_keys()
};

/// Creates (once per install, mode 0600) and returns the host keys in `dir`:
/// ed25519, ECDSA P-256 and RSA 3072, the set OpenSSH generates.
/// std::runtime_error naming the file on failure.
std::vector<std::filesystem::path> ensure_host_keys(const std::filesystem::path& dir, Logger& logger);

class Engine {
 public:
  using Emit = std::function<void(const char* event_type, const honeypot::Peer& peer, Alert&& alert)>;
  /// Called on the engine thread when the engine lets go of a connection.
  using Release = std::function<void(const std::shared_ptr<Connection>& connection)>;

  Engine(EngineSettings settings, honeypot::LoginPolicy& policy, Emit emit, Release release);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Loads the host keys and starts the thread; std::runtime_error when
  /// libssh refuses a setting.
  void start();
  /// Stops the thread and frees every session (no events for them).
  void stop();

  /// Gives the engine `fd`, its end of the connection's socket pair.
  /// Thread-safe; the engine owns (and closes) `fd` from now on.
  void adopt(int fd, std::shared_ptr<Connection> connection);

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace honeycomb::services::ssh
