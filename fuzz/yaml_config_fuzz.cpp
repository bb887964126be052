// The YAML configuration files on hostile bytes: honeycomb.yml (--config of
// the plugin host, read from text), core.yml and node.yml (their loaders
// take a path: the input is written to one temporary file per process,
// reused). Any text must give a configuration or an error text naming the
// file, never a crash, a hang or an exception; a configuration that loads
// must respect the bounds its loader promises.
#include "cli/config_file.hpp"
#include "core/config.hpp"
#include "node/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

std::string temp_path;  // NOLINT: one per process
int temp_fd = -1;       // NOLINT

void remove_temp() {
  if (!temp_path.empty()) {
    ::unlink(temp_path.c_str());
  }
}

void write_temp(std::string_view text) {
  require(::ftruncate(temp_fd, 0) == 0);
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::pwrite(temp_fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    require(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

bool starts_with_path(const std::string& error) {
  return error.rfind(temp_path, 0) == 0;
}

void check_honeycomb_yml(std::string_view text) {
  auto parsed = honeycomb::cli::parse_config_text(text, "honeycomb.yml");
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    require(error->rfind("honeycomb.yml", 0) == 0);
    return;
  }
  const auto& contents = std::get<honeycomb::cli::ConfigFileContents>(parsed);
  require(!contents.services.empty());
  for (const auto* list : {&contents.services, &contents.integrations}) {
    for (const auto& entry : *list) {
      for (const auto& arg : entry.args) {
        require(arg.find('=') != std::string::npos);
      }
    }
  }
}

void check_core_yml() {
  const honeycomb::core::CoreConfig defaults;
  auto loaded = honeycomb::core::load_core_config(temp_path, defaults);
  if (const auto* error = std::get_if<std::string>(&loaded)) {
    require(starts_with_path(*error));
    return;
  }
  const auto& c = std::get<honeycomb::core::CoreConfig>(loaded);
  require(c.io_threads >= 1 && c.io_threads <= 64);
  require(c.max_envelope_bytes >= 4096);
  require(c.heartbeat.count() >= 10 && c.registration_timeout.count() >= 1000 && c.command_timeout.count() >= 1000);
  require(c.max_malformed_per_peer >= 1 && c.max_nodes >= 1 && c.api_max_connections >= 1);
  require(c.api_max_body_bytes >= 1024 && c.ws_client_queue >= 1 && c.ws_max_clients >= 1);
  require(c.storage.retention_days >= 0 && c.storage.retention_max_mb >= 0 && c.storage.queue_capacity >= 1024);
  (void)c.database_path();
  (void)c.api_listen.text();
}

void check_node_yml() {
  const honeycomb::node::NodeConfig defaults;
  auto loaded = honeycomb::node::load_node_config(temp_path, defaults);
  if (const auto* error = std::get_if<std::string>(&loaded)) {
    require(starts_with_path(*error));
    return;
  }
  const auto& c = std::get<honeycomb::node::NodeConfig>(loaded);
  require(c.io_threads >= 1 && c.io_threads <= 64);
  require(c.max_line_bytes >= 1024 && c.max_connections >= 1);
  require(c.spool_max_bytes >= (std::uint64_t{1} << 20) && c.spool_segment_bytes >= (std::uint64_t{1} << 20));
  require(c.reconnect_min <= c.reconnect_max && c.pot_restart_min <= c.pot_restart_max);
  require(c.max_unacked_events >= 1 && c.pot_log_max_bytes >= 4096);
  for (const auto& core : c.cores) {
    require(core.port != 0 && !core.address.empty());
  }
  for (const auto& pot : c.pots) {
    require(!pot.pot_id.empty() && !pot.honeypot_type.empty());
  }
  for (const auto& output : c.outputs) {
    require(!output.integration.empty());
    for (const auto& arg : output.args) {
      require(arg.find('=') != std::string::npos);
    }
  }
  (void)honeycomb::node::to_string(c.fsync);
  (void)c.event_listen.text();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  char name[] = "/tmp/honeycomb-yaml-fuzz-XXXXXX";
  temp_fd = ::mkstemp(name);
  require(temp_fd >= 0);
  temp_path = name;
  std::atexit(remove_temp);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  check_honeycomb_yml(text);
  write_temp(text);
  check_core_yml();
  check_node_yml();
  return 0;
}
