#include "protocol/messages.hpp"

#include <array>
#include <utility>

namespace honeycomb::protocol {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Linear lookups over a handful of names: cheaper than a map at this size.
template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<const char*, E>, N>& table, std::string_view s) {
  for (const auto& [name, e] : table) {
    if (iequals(name, s)) {
      return e;
    }
  }
  return std::nullopt;
}

constexpr std::array<std::pair<const char*, NodeType>, 2> kNodeTypes{{
    {"Full", NodeType::full},
    {"Agent", NodeType::agent},
}};

constexpr std::array<std::pair<const char*, NodeStatus>, 6> kNodeStatuses{{
    {"Connected", NodeStatus::connected},
    {"Deploying", NodeStatus::deploying},
    {"Running", NodeStatus::running},
    {"Stopped", NodeStatus::stopped},
    {"Failed", NodeStatus::failed},
    {"Unknown", NodeStatus::unknown},
}};

constexpr std::array<std::pair<const char*, PotStatus>, 5> kPotStatuses{{
    {"Installing", PotStatus::installing},
    {"Running", PotStatus::running},
    {"Stopped", PotStatus::stopped},
    {"Failed", PotStatus::failed},
    {"Unknown", PotStatus::unknown},
}};

constexpr std::array<std::pair<const char*, NodeEvent::Kind>, 4> kNodeEventKinds{{
    {"Started", NodeEvent::Kind::started},
    {"Stopped", NodeEvent::Kind::stopped},
    {"Alarm", NodeEvent::Kind::alarm},
    {"Error", NodeEvent::Kind::error},
}};

constexpr std::array<std::pair<const char*, Command::Kind>, 11> kCommands{{
    {"Restart", Command::Kind::restart},
    {"UpdateConfig", Command::Kind::update_config},
    {"InstallPot", Command::Kind::install_pot},
    {"DeployPot", Command::Kind::deploy_pot},
    {"StopPot", Command::Kind::stop_pot},
    {"RestartPot", Command::Kind::restart_pot},
    {"GetPotStatus", Command::Kind::get_pot_status},
    {"GetPotInfo", Command::Kind::get_pot_info},
    {"GetPotLogs", Command::Kind::get_pot_logs},
    {"GetPotMetrics", Command::Kind::get_pot_metrics},
    {"GetInstalledPots", Command::Kind::get_installed_pots},
}};

template <class E, std::size_t N>
const char* name_of(const std::array<std::pair<const char*, E>, N>& table, E e) {
  for (const auto& [name, value] : table) {
    if (value == e) {
      return name;
    }
  }
  return "Unknown";
}

}  // namespace

const char* to_string(NodeType t) {
  return name_of(kNodeTypes, t);
}
const char* to_string(NodeStatus s) {
  return name_of(kNodeStatuses, s);
}
const char* to_string(PotStatus s) {
  return name_of(kPotStatuses, s);
}
const char* to_string(NodeEvent::Kind k) {
  return name_of(kNodeEventKinds, k);
}
const char* to_string(Command::Kind k) {
  return name_of(kCommands, k);
}

std::optional<NodeType> node_type_from(std::string_view s) {
  return lookup(kNodeTypes, s);
}
std::optional<NodeEvent::Kind> node_event_kind_from(std::string_view s) {
  return lookup(kNodeEventKinds, s);
}
std::optional<NodeStatus> node_status_from(std::string_view s) {
  return lookup(kNodeStatuses, s);
}
std::optional<PotStatus> pot_status_from(std::string_view s) {
  return lookup(kPotStatuses, s);
}
std::optional<Command::Kind> command_kind_from(std::string_view s) {
  return lookup(kCommands, s);
}

bool command_takes_pot_id(Command::Kind k) {
  switch (k) {
    case Command::Kind::restart:
    case Command::Kind::update_config:
    case Command::Kind::get_installed_pots:
      return false;
    case Command::Kind::install_pot:
    case Command::Kind::deploy_pot:
    case Command::Kind::stop_pot:
    case Command::Kind::restart_pot:
    case Command::Kind::get_pot_status:
    case Command::Kind::get_pot_info:
    case Command::Kind::get_pot_logs:
    case Command::Kind::get_pot_metrics:
      return true;
  }
  return false;
}

}  // namespace honeycomb::protocol
