// Runs one service in this process: validates its parameters, wires the
// alert pipeline to the requested integrations, drives the lifecycle
// (on_server_start on its own thread, signal_ready, SIGINT/SIGTERM ->
// on_server_shutdown), optionally as a daemon with a pidfile.
#pragma once

#include "host/home.hpp"
#include "pipeline/integration.hpp"
#include "pipeline/pipeline.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace honeycomb::host {

/// How long a service may take to signal ready: $HONEYCOMB_READY_TIMEOUT
/// (seconds, fractions allowed) when set and valid, else 30 s.
std::chrono::milliseconds default_ready_timeout();
/// Parses a ready timeout in seconds ("2", "0.5"); nullopt unless > 0.
std::optional<std::chrono::milliseconds> parse_ready_timeout(const std::string& seconds);

struct RunRequest {
  Home home;
  std::string service;                    ///< installed name, or a folder with `editable`
  bool editable = false;
  bool daemon = false;
  std::vector<std::string> args;          ///< key=value
  std::vector<std::string> integrations;  ///< installed integration names
  bool verbose = false;
  std::chrono::milliseconds ready_timeout = default_ready_timeout();
  pipeline::PipelineLimits limits;
};

/// Runs until the service stops; returns the process exit code.
int run_service(const RunRequest& request);

/// An integration ready to use: its spec, validated parameters and instance.
struct LoadedIntegration {
  plugin::IntegrationSpec spec;
  ServiceArgs args;
  std::unique_ptr<pipeline::Integration> instance;
};

/// Loads an installed (or, with `editable`, a folder's) integration with its
/// saved configuration (`.args.json`), or `override_args` when given.
std::variant<LoadedIntegration, std::string> load_integration(const Home& home, const std::string& name,
                                                              bool editable,
                                                              const std::vector<std::string>* override_args = nullptr);

/// Resolves a service folder (installed name or editable path).
std::variant<plugin::ServiceSpec, std::string> resolve_service(const Home& home, const std::string& name,
                                                               bool editable);

}  // namespace honeycomb::host
