// The honeycomb home folder and the plugin library ("online library": the
// catalog of plugins shipped with the project).
//
// Home layout (the reference's):
//   <home>/services/<name>/            installed service (config.json, code)
//   <home>/services/<name>/.args.json  parameters of the last run
//   <home>/services/<name>/logs/       stdout.log, stderr.log of daemons
//   <home>/services/<name>.pid         pidfile of a daemon
//   <home>/integrations/<name>/        installed integration (+ .args.json)
//   <home>/honeycomb.debug.log         every log record, one JSON per line
#pragma once

#include "plugin/config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace honeycomb::host {

namespace fs = std::filesystem;

/// Where plugins of one kind live, as a small value type.
struct PluginPaths {
  plugin::PluginKind kind;
  fs::path installed_root;  ///< <home>/services or <home>/integrations
  fs::path library_root;    ///< <library>/services or <library>/integrations

  [[nodiscard]] std::string_view noun() const {
    return kind == plugin::PluginKind::service ? "service" : "integration";
  }
  [[nodiscard]] fs::path installed(std::string_view name) const { return installed_root / std::string(name); }
  [[nodiscard]] fs::path in_library(std::string_view name) const { return library_root / std::string(name); }
  [[nodiscard]] bool is_installed(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> installed_names() const;
  [[nodiscard]] std::vector<std::string> library_names() const;
};

struct Home {
  fs::path root;
  fs::path library;

  [[nodiscard]] PluginPaths services() const;
  [[nodiscard]] PluginPaths integrations() const;
  [[nodiscard]] PluginPaths plugins(plugin::PluginKind kind) const {
    return kind == plugin::PluginKind::service ? services() : integrations();
  }
  [[nodiscard]] fs::path debug_log() const { return root / "honeycomb.debug.log"; }
  [[nodiscard]] fs::path pidfile(std::string_view service) const {
    return root / "services" / (std::string(service) + ".pid");
  }
  [[nodiscard]] fs::path logs_dir(std::string_view service) const {
    return root / "services" / std::string(service) / "logs";
  }
};

/// The default home: $XDG_CONFIG_HOME/honeycomb or ~/.config/honeycomb.
fs::path default_home();
/// The plugin library: $HONEYCOMB_LIBRARY, else <exe>/../share/honeycomb/library.
fs::path default_library();

/// The Python plugin support files (honeycomb_child.py, base_service.py,
/// the honeycomb package): $HONEYCOMB_PYTHON_DIR, else
/// <exe>/../share/honeycomb/python.
fs::path default_python_dir();

/// Outcome of an install.
enum class InstallStatus { installed, already_installed, failed };
struct InstallOutcome {
  InstallStatus status = InstallStatus::failed;
  std::string name;
  std::string message;  ///< error text when failed
  /// Lines for the user about a Python plugin's requirements.txt (installed,
  /// or which modules are missing and which the system already has).
  std::vector<std::string> notes;
};

/// Installs a plugin from a folder, a zip file or a library name; the plugin's
/// config.json is validated before anything is copied. A requirements.txt is
/// installed with pip into `<plugin>/.deps` (added to the plugin's sys.path);
/// when pip cannot (no package index), `notes` says what is missing.
InstallOutcome install_plugin(const PluginPaths& paths, const std::string& source);

/// A folder given on the command line as an absolute, normalised path
/// without a trailing slash (so that filename() is the folder's name).
fs::path normalized_folder(const std::string& argument);

/// The folder of a plugin: installed under `name`, or with `editable` the
/// folder `name` itself. The error names the plugin and says what to do.
std::variant<fs::path, std::string> plugin_folder(const PluginPaths& paths, const std::string& name, bool editable);

/// Reads a whole file, or nullopt.
std::optional<std::string> read_text_file(const fs::path& path);
/// Replaces `path` atomically (a temporary file beside it, then rename):
/// readers see the old text or the new, never half.
/// `owner_only`: the file is 0600 before any byte is in it.
bool write_text_file(const fs::path& path, std::string_view text, std::string& error, bool owner_only = false);

}  // namespace honeycomb::host
