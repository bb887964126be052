// honeycomb.yml's reader: the document checked and turned into entries,
// without touching the home (run_config_file installs and runs them).
//
//   version: 1
//   services:
//     simple_http:
//       parameters: {port: 1234}
//   integrations:
//     syslog:
//       parameters: {address: "127.0.0.1", port: 5514, protocol: tcp}
#include "cli/config_file.hpp"

#include <yaml-cpp/yaml.h>

namespace honeycomb::cli {
namespace {

std::string where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

/// Empty on success, else the error text.
std::string read_entries(const std::string& path, const YAML::Node& section, const char* what,
                         std::vector<ConfigFileEntry>& out) {
  if (!section) {
    return {};
  }
  if (!section.IsMap()) {
    return where(path, section) + ": " + what + ": must be a mapping of names to settings";
  }
  for (const auto& item : section) {
    ConfigFileEntry e;
    e.name = item.first.as<std::string>();
    const YAML::Node& settings = item.second;
    if (settings && !settings.IsNull()) {
      if (!settings.IsMap()) {
        return where(path, settings) + ": " + what + "." + e.name + ": must be a mapping";
      }
      const YAML::Node params = settings["parameters"];
      if (params && !params.IsNull()) {
        if (!params.IsMap()) {
          return where(path, params) + ": " + what + "." + e.name + ".parameters: must be a mapping of key: value";
        }
        for (const auto& p : params) {
          if (!p.second.IsScalar()) {
            return where(path, p.second) + ": " + what + "." + e.name + ".parameters." + p.first.as<std::string>() +
                   ": must be a scalar value";
          }
          e.args.push_back(p.first.as<std::string>() + "=" + p.second.as<std::string>());
        }
      }
    }
    out.push_back(std::move(e));
  }
  return {};
}

}  // namespace

std::variant<ConfigFileContents, std::string> parse_config_document(const YAML::Node& doc, const std::string& path) {
  if (!doc.IsMap()) {
    return path + ": must be a mapping with version, services and integrations";
  }
  ConfigFileContents out;
  try {
    // Checked as a scalar first: as<std::string>() throws on a list or a map.
    const YAML::Node version = doc["version"];
    if (!version || !version.IsScalar() || version.Scalar() != "1") {
      return path + ": version: must be 1";
    }
    if (auto error = read_entries(path, doc["services"], "services", out.services); !error.empty()) {
      return error;
    }
    if (auto error = read_entries(path, doc["integrations"], "integrations", out.integrations); !error.empty()) {
      return error;
    }
  } catch (const YAML::Exception& e) {
    return path + ": " + e.what();
  }
  if (out.services.empty()) {
    return path + ": services: lists no service to run";
  }
  return out;
}

std::variant<ConfigFileContents, std::string> parse_config_text(std::string_view text, const std::string& path) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return path + ": not valid YAML (" + e.what() + ")";
  }
  return parse_config_document(doc, path);
}

}  // namespace honeycomb::cli
