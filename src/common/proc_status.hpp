// One field of /proc/self/status (the kernel's view of this process).
#pragma once

#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace honeycomb {

/// The value of the field `name` ("TracerPid", "CapEff"…), without the
/// whitespace around it; nullopt when the file or the field is missing.
inline std::optional<std::string> self_status_field(std::string_view name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
      const auto begin = line.find_first_not_of(" \t", name.size() + 1);
      const auto end = line.find_last_not_of(" \t");
      return begin == std::string::npos ? std::string() : line.substr(begin, end - begin + 1);
    }
  }
  return std::nullopt;
}

}  // namespace honeycomb
