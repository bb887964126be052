// What the YAML configuration files of the core and the node share: an
// ADDRESS:PORT type and the checked readers of one key, whose errors name
// the key (the caller prefixes the file name).
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace honeycomb::config_keys {

struct Listen {
  std::string address;
  std::uint16_t port = 0;
  std::string text() const {  ///< "address:port" ("[v6]:port")
    if (address.find(':') != std::string::npos) {
      return fmt::format("[{}]:{}", address, port);
    }
    return fmt::format("{}:{}", address, port);
  }
};

/// A bad value; `message` starts with the key.
struct KeyError {
  std::string message;
};

/// "0.0.0.0:9001", "[::]:9001", "host.example:9001", or "9001" (then the
/// address is `default_address`).
inline Listen parse_listen(const std::string& key, const std::string& text,
                           const std::string& default_address = "0.0.0.0") {
  Listen l;
  std::string port_text = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw KeyError{fmt::format("{}: '{}' is not ADDRESS:PORT", key, text)};
    }
    l.address = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    l.address = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  } else {
    l.address = default_address;
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || p != port_text.data() + port_text.size() || port > 65535) {
    throw KeyError{fmt::format("{}: '{}' has no valid port (0-65535)", key, text)};
  }
  l.port = static_cast<std::uint16_t>(port);
  return l;
}

template <class T>
T scalar(const YAML::Node& n, const std::string& key, T min, T max) {
  T v{};
  try {
    v = n.as<T>();
  } catch (const YAML::Exception&) {
    throw KeyError{fmt::format("{}: '{}' is not a number", key, n.Scalar())};
  }
  if (v < min || v > max) {
    throw KeyError{fmt::format("{}: {} is out of range [{}, {}]", key, v, min, max)};
  }
  return v;
}

/// A duration key given in seconds (`*_seconds`) or milliseconds (`*_ms`),
/// bounds in the key's own unit.
inline std::chrono::milliseconds seconds(const YAML::Node& n, const std::string& key, std::int64_t min,
                                         std::int64_t max) {
  return std::chrono::milliseconds(scalar<std::int64_t>(n, key, min, max) * 1000);
}
inline std::chrono::milliseconds millis(const YAML::Node& n, const std::string& key, std::int64_t min,
                                        std::int64_t max) {
  return std::chrono::milliseconds(scalar<std::int64_t>(n, key, min, max));
}

inline std::string text(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) {
    throw KeyError{fmt::format("{}: must be a string", key)};
  }
  return n.Scalar();
}

inline bool boolean(const YAML::Node& n, const std::string& key) {
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    throw KeyError{fmt::format("{}: '{}' is not true/false", key, n.Scalar())};
  }
}

/// Reads a configuration file whose top level is a mapping of keys (an
/// empty file is an empty mapping). nullopt with `error` naming the file
/// (and the line, for invalid YAML) otherwise.
inline std::optional<YAML::Node> load_mapping(const std::filesystem::path& file, std::string& error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    error = fmt::format("{}: cannot read the file", file.string());
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    error = fmt::format("{}: invalid YAML at line {}: {}", file.string(), e.mark.line + 1, e.msg);
    return std::nullopt;
  }
  if (root.IsNull()) {
    return YAML::Node(YAML::NodeType::Map);
  }
  if (!root.IsMap()) {
    error = fmt::format("{}: the top level must be a mapping of keys", file.string());
    return std::nullopt;
  }
  return root;
}

}  // namespace honeycomb::config_keys
