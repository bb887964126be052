#include "cli/up_command.hpp"

#include "cli/commands.hpp"
#include "core/core.hpp"
#include "host/process.hpp"
#include "security/pki.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <netinet/in.h>
#include <ranges>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace honeycomb::cli {

namespace {

struct Child {
  std::string name;
  pid_t pid = -1;
  bool essential = false;  ///< the core: when it exits, everything stops
};

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args = host::exec_argv(argv);
  // The supervisor blocks the signals it waits for; its children must not
  // inherit that mask (they handle SIGINT/SIGTERM themselves).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

bool port_listening(const std::string& listen) {
  auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : listen.substr(0, colon);
  if (host == "0.0.0.0" || host.empty()) {
    host = "127.0.0.1";
  }
  const int port = std::atoi(listen.substr(colon == std::string::npos ? 0 : colon + 1).c_str());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

void UpCommand::add(CLI::App& app) {
  up_ = app.add_subcommand("up",
                           "Run a core, a node and the default honeypots on this machine (Ctrl-C stops everything)");
  up_->add_option("--http-port", http_port_, "Port of the simple_http honeypot")->capture_default_str();
  up_->add_option("--telnet-port", telnet_port_, "Port of the telnet honeypot")->capture_default_str();
  up_->add_option("--ssh-port", ssh_port_, "Port of the ssh honeypot")->capture_default_str();
  up_->add_option("--node-listen", node_listen_, "Core's node port")->capture_default_str();
  up_->add_option("--api-listen", api_listen_, "Core's REST API (and dashboard)")->capture_default_str();
  up_->add_option("--ws-listen", ws_listen_, "Core's WebSocket stream")->capture_default_str();
  up_->add_option("--event-listen", event_listen_, "The node's event port for honeypots")->capture_default_str();
  up_->add_flag("--no-honeypots", no_honeypots_, "Start no honeypot");
  up_->add_flag("--no-node", no_node_, "Start no node (and so no honeypot: the node runs them)");
  up_->footer(
      "Everything lives under --home: the database and token in <home>/core, the node's spool and pots in "
      "<home>/node.");
}

int UpCommand::run(const host::Home& home, bool iamroot, bool verbose) {
  std::vector<std::string> base{"honeycomb", "--home", home.root.string()};
  if (iamroot) {
    base.emplace_back("--iamroot");
  }
  if (verbose) {
    base.emplace_back("--verbose");
  }
  auto with = [&](std::initializer_list<std::string> args) {
    auto v = base;
    v.insert(v.end(), args);
    return v;
  };

  // Block the signals we wait for before any child exists, so none is lost.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::vector<Child> children;
  auto start = [&](std::string name, const std::vector<std::string>& argv, bool essential) {
    const pid_t pid = spawn(argv);
    if (pid < 0) {
      std::cerr << "Error: cannot start " << name << ": " << std::strerror(errno) << "\n";
      return false;
    }
    children.push_back({std::move(name), pid, essential});
    return true;
  };
  bool ok = start("core",
                  with({"core", "--node-listen", node_listen_, "--api-listen", api_listen_, "--ws-listen", ws_listen_}),
                  true);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ok && !port_listening(api_listen_)) {
    int status = 0;
    if (::waitpid(children[0].pid, &status, WNOHANG) == children[0].pid) {
      std::cerr << "Error: the core did not start (see the messages above)\n";
      return exit_code::failure;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "Error: the core is not listening on " << api_listen_ << " after 20 s\n";
      ok = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  if (ok && !no_node_) {
    // The node: runs the default honeypots as its pots (their events go
    // through its event port and spool to this core) and takes the JSON
    // lines of any other honeypot on the event port.
    std::string pots = "pots: []\n";
    if (!no_honeypots_) {
      pots = fmt::format(
          "pots:\n  - id: web-01\n    type: simple_http\n    config: {{port: \"{}\"}}\n"
          "  - id: telnet-01\n    type: telnet\n    config: {{port: \"{}\"}}\n"
          "  - id: ssh-01\n    type: ssh\n    config: {{port: \"{}\"}}\n",
          http_port_, telnet_port_, ssh_port_);
    }
    // The core requires node certificates: a node not enrolled yet gets a
    // join token through its configuration file (mode 0600; never on a
    // command line, where `ps` would show it), spent at its first connection.
    std::string join;
    if (!std::filesystem::exists(home.root / "node" / "tls" / "node.crt")) {
      core::CoreConfig core_config;
      core_config.data_dir = home.root / "core";
      auto storage = core::open_core_storage(core_config);
      char host[256] = {};
      const std::string name = ::gethostname(host, sizeof host - 1) == 0 ? host : "honeycomb-node";
      auto created = storage ? core::create_join_token(*storage, core_config, name, std::chrono::minutes(10), "up")
                             : std::variant<std::string, std::string>(std::in_place_index<1>, "no database");
      if (created.index() == 1) {
        std::cerr << "Error: cannot enroll the node: " << std::get<1>(created) << "\n";
        ok = false;
      } else {
        join = "join_token: " + std::get<0>(created) + "\n";
      }
    }
    const auto node_config = home.root / "up-node.yml";
    std::string write_error;
    std::filesystem::create_directories(home.root);
    if (ok) {
      write_error = security::write_file(
          node_config, "# Written by `honeycomb up` at every start: the node's default pots.\n" + join + pots, true);
    }
    const bool written = write_error.empty();
    if (!ok) {
      // already reported
    } else if (!written) {
      std::cerr << "Error: " << write_error << "\n";
      ok = false;
    } else {
      ok = start(
          "node",
          with({"node", "--config", node_config.string(), "--core", node_listen_, "--event-listen", event_listen_}),
          false);
    }
  }
  if (ok) {
    std::cout << fmt::format(
                     "[*] honeycomb is up\n    dashboard:  http://{}/  (log in with the token in {})\n"
                     "    API:        http://{}/api/v1/  (same token)\n"
                     "    node:       {}\n    honeypots:  {}\n    Ctrl-C stops everything\n",
                     api_listen_, (home.root / "core" / "api-token").string(), api_listen_,
                     no_node_ ? std::string("none (--no-node)")
                              : fmt::format("event port {} (spool in {})", event_listen_,
                                            (home.root / "node" / "spool").string()),
                     no_honeypots_ || no_node_
                         ? std::string(no_node_ ? "none (--no-node: the node runs them)" : "none (--no-honeypots)")
                         : fmt::format("simple_http on port {} (pot web-01), telnet on port {} (pot telnet-01), "
                                       "ssh on port {} (pot ssh-01); "
                                       "their events: http://{}/api/v1/events?pot=web-01",
                                       http_port_, telnet_port_, ssh_port_, api_listen_))
              << std::flush;
  }

  int rc = ok ? exit_code::ok : exit_code::failure;
  while (ok) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGCHLD) {
      break;
    }
    bool stop = false;
    for (auto& c : children) {
      int status = 0;
      if (c.pid > 0 && ::waitpid(c.pid, &status, WNOHANG) == c.pid) {
        std::cerr << "[-] " << c.name << " exited"
                  << (WIFEXITED(status) ? fmt::format(" with code {}", WEXITSTATUS(status))
                                        : fmt::format(" on signal {}", WTERMSIG(status)))
                  << "\n";
        c.pid = -1;
        if (c.essential) {
          stop = true;
          rc = exit_code::failure;
        }
      }
    }
    if (stop) {
      break;
    }
  }

  // Stop in reverse order (honeypots first, then the core), each with
  // SIGINT, then SIGKILL after a deadline.
  for (auto& child : std::ranges::reverse_view(children)) {
    if (child.pid <= 0) {
      continue;
    }
    ::kill(child.pid, SIGINT);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int status = 0;
    while (::waitpid(child.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(child.pid, SIGKILL);
        ::waitpid(child.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return rc;
}

}  // namespace honeycomb::cli
