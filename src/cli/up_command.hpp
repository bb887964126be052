// `honeycomb up`: the whole thing on one machine with one command — a core
// on an embedded SQLite file under the home folder and the default
// honeypots, each as a child process of this supervisor, stopped together.
#pragma once

#include "host/home.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace honeycomb::cli {

class UpCommand {
 public:
  void add(CLI::App& app);
  bool parsed() const { return up_->parsed(); }
  int run(const host::Home& home, bool iamroot, bool verbose);

 private:
  CLI::App* up_ = nullptr;
  unsigned http_port_ = 8080;
  unsigned telnet_port_ = 2323;
  unsigned ssh_port_ = 2222;
  std::string api_listen_ = "127.0.0.1:9002";
  std::string node_listen_ = "127.0.0.1:9001";
  std::string ws_listen_ = "127.0.0.1:9003";
  bool no_honeypots_ = false;
  bool no_node_ = false;
  std::string event_listen_ = "127.0.0.1:9100";
};

}  // namespace honeycomb::cli
