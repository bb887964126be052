// honeycomb.yml (`honeycomb --config`): what the file lists, read without
// installing or running anything (run_config_file in commands.hpp does that).
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace YAML {
class Node;
}

namespace honeycomb::cli {

/// One entry of `services:` or `integrations:`.
struct ConfigFileEntry {
  std::string name;
  std::vector<std::string> args;  ///< key=value, converted like command-line args
};

/// What a honeycomb.yml lists.
struct ConfigFileContents {
  std::vector<ConfigFileEntry> services;  ///< never empty
  std::vector<ConfigFileEntry> integrations;
};

/// Checks a loaded document (version 1, a mapping of services, at least one,
/// and integrations). The error text starts with `path` (and the line);
/// never throws.
std::variant<ConfigFileContents, std::string> parse_config_document(const YAML::Node& doc, const std::string& path);

/// The same from the file's text, as YAML::LoadFile would read it; `path`
/// only names it in errors.
std::variant<ConfigFileContents, std::string> parse_config_text(std::string_view text, const std::string& path);

}  // namespace honeycomb::cli
