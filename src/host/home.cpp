#include "host/home.hpp"

#include "host/process.hpp"
#include "host/python_child.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace honeycomb::host {

bool PluginPaths::is_installed(std::string_view name) const {
  std::error_code ec;
  return fs::is_regular_file(installed(name) / "config.json", ec);
}

namespace {
std::vector<std::string> plugin_folders(const fs::path& root) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec) && fs::is_regular_file(entry.path() / "config.json", ec)) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace

std::vector<std::string> PluginPaths::installed_names() const {
  return plugin_folders(installed_root);
}
std::vector<std::string> PluginPaths::library_names() const {
  return plugin_folders(library_root);
}

PluginPaths Home::services() const {
  return {plugin::PluginKind::service, root / "services", library / "services"};
}
PluginPaths Home::integrations() const {
  return {plugin::PluginKind::integration, root / "integrations", library / "integrations"};
}

fs::path default_home() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return fs::path(xdg) / "honeycomb";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return fs::path(home) / ".config" / "honeycomb";
  }
  return fs::current_path() / ".honeycomb";
}

fs::path default_library() {
  if (const char* lib = std::getenv("HONEYCOMB_LIBRARY"); lib != nullptr && *lib != '\0') {
    return lib;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().parent_path() / "share" / "honeycomb" / "library";
}

fs::path default_python_dir() {
  if (const char* dir = std::getenv("HONEYCOMB_PYTHON_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().parent_path() / "share" / "honeycomb" / "python";
}

fs::path normalized_folder(const std::string& argument) {
  std::error_code ec;
  fs::path folder = fs::absolute(argument, ec).lexically_normal();
  if (folder.filename().empty()) {
    folder = folder.parent_path();
  }
  return folder;
}

std::variant<fs::path, std::string> plugin_folder(const PluginPaths& paths, const std::string& name, bool editable) {
  std::error_code ec;
  if (editable) {
    fs::path folder = normalized_folder(name);
    if (!fs::is_directory(folder, ec)) {
      return "Cannot find " + std::string(paths.noun()) + " folder " + name;
    }
    return folder;
  }
  if (!paths.is_installed(name)) {
    std::string noun(paths.noun());
    std::string title = noun;
    title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    return title + " " + name + " is not installed; install it with `honeycomb " + noun + " install " + name + "`";
  }
  return paths.installed(name);
}

std::optional<std::string> read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_text_file(const fs::path& path, std::string_view text, std::string& error, bool owner_only) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      error = "cannot write " + tmp.string();
      return false;
    }
    if (owner_only) {
      fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    }
    out << text;
    if (!out.flush()) {
      error = "cannot write " + tmp.string();
      return false;
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    error = "cannot rename " + tmp.string() + ": " + ec.message();
    return false;
  }
  return true;
}

namespace {

// Runs a program (no shell) and waits; returns its exit status or -1.
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args = exec_argv(argv);
  pid_t pid = 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs a program (no shell) with stdout and stderr to `output_file`, killing
// it after `timeout`; returns its exit status, or -1.
int run_program_logged(const std::vector<std::string>& argv, const fs::path& output_file,
                       std::chrono::seconds timeout) {
  std::vector<char*> args = exec_argv(argv);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      break;
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// True when requirements.txt names at least one requirement.
bool has_requirements(const fs::path& file) {
  auto text = read_text_file(file);
  if (!text) {
    return false;
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    const auto start = line.find_first_not_of(" \t\r");
    if (start != std::string::npos && line[start] != '#') {
      return true;
    }
  }
  return false;
}

// Installs a plugin's requirements.txt into <plugin>/.deps with pip. pip
// fails within seconds without a package index (no retries, 5 s timeout);
// then the plugin's requirements are checked one by one against what the
// interpreter can already import (e.g. Debian python3-* packages), so the
// user knows what is missing. Never fails the install: the plugin runs
// when what it imports is there.
void install_requirements(const std::string& name, const fs::path& dest, std::vector<std::string>& notes) {
  const fs::path requirements = dest / "requirements.txt";
  if (!has_requirements(requirements)) {
    return;
  }
  const std::string interpreter = python_interpreter();
  const std::string python = resolve_program(interpreter);
  if (python.empty()) {
    notes.push_back("[-] cannot install the requirements of " + name + ": Python interpreter `" + interpreter +
                    "` not found (set HONEYCOMB_PYTHON)");
    return;
  }
  const fs::path pip_log = dest / ".pip.log";
  const int rc = run_program_logged(
      {python, "-m", "pip", "install", "--target", (dest / ".deps").string(), "--retries", "0", "--timeout", "5",
       "--disable-pip-version-check", "--no-input", "--no-warn-script-location", "-r", requirements.string()},
      pip_log, std::chrono::seconds(300));
  if (rc == 0) {
    notes.push_back("[+] installed the requirements of " + name + " into " + (dest / ".deps").string());
    return;
  }
  notes.push_back("[-] pip could not install the requirements of " + name + " (no package index reachable?); see " +
                  pip_log.string());
  const fs::path report = dest / ".requirements.check";
  const int check =
      run_program_logged({python, "-B", (default_python_dir() / "honeycomb_child.py").string(), "--mode",
                          "requirements", "--folder", dest.string(), "--requirements", requirements.string()},
                         report, std::chrono::seconds(60));
  auto text = read_text_file(report);
  std::error_code ec;
  fs::remove(report, ec);
  if (check != 0 || !text) {
    notes.push_back("[-] cannot check which requirements of " + name + " are importable");
    return;
  }
  std::istringstream in(*text);
  std::string line;
  int missing = 0;
  while (std::getline(in, line)) {
    boost::system::error_code jec;
    const auto v = boost::json::parse(line, jec);
    if (jec || !v.is_object()) {
      continue;
    }
    const auto& o = v.get_object();
    auto str = [&](std::string_view key) -> std::string {
      const auto* m = o.if_contains(key);
      return m != nullptr && m->is_string() ? std::string(m->get_string()) : std::string();
    };
    const auto* available = o.if_contains("available");
    if (available != nullptr && available->is_bool() && available->get_bool()) {
      const std::string version = str("version");
      notes.push_back("[*] " + str("requirement") + ": already importable from the system (module " + str("module") +
                      (version.empty() ? "" : ", version " + version) + ", " + str("where") + ")");
    } else {
      ++missing;
      notes.push_back("[-] " + str("requirement") + ": missing (module " + str("module") +
                      " is not importable); install it, e.g. `apt install python3-<name>` or pip when online");
    }
  }
  if (missing > 0) {
    notes.push_back("[-] " + name + " will fail to start until its " + std::to_string(missing) +
                    " missing requirement" + (missing > 1 ? "s are" : " is") + " installed");
  } else {
    notes.push_back("[*] every requirement of " + name + " is importable: it can run");
  }
}

fs::path make_temp_dir() {
  std::random_device rd;
  for (int i = 0; i < 16; ++i) {
    fs::path p = fs::temp_directory_path() / ("honeycomb-install-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      return p;
    }
  }
  return {};
}

// The folder inside an unpacked zip that holds config.json: the root itself
// or its only subfolder.
std::optional<fs::path> plugin_root_in(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / "config.json", ec)) {
    return dir;
  }
  std::optional<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec) && fs::is_regular_file(e.path() / "config.json", ec)) {
      if (found) {
        return std::nullopt;
      }
      found = e.path();
    }
  }
  return found;
}

std::optional<std::string> validate(const PluginPaths& paths, const fs::path& folder) {
  if (paths.kind == plugin::PluginKind::service) {
    auto spec = plugin::load_service_spec(folder);
    if (!spec) {
      return spec.error().message();
    }
  } else {
    auto spec = plugin::load_integration_spec(folder);
    if (!spec) {
      return spec.error().message();
    }
  }
  return std::nullopt;
}

}  // namespace

InstallOutcome install_plugin(const PluginPaths& paths, const std::string& source) {
  InstallOutcome out;
  std::error_code ec;
  fs::path folder;
  fs::path cleanup;
  const fs::path src(source);
  if (fs::is_directory(src, ec)) {
    folder = normalized_folder(source);
    out.name = folder.filename().string();
  } else if (fs::is_regular_file(src, ec) && src.extension() == ".zip") {
    cleanup = make_temp_dir();
    if (cleanup.empty()) {
      out.message = "cannot create a temporary folder to unpack " + source;
      return out;
    }
    if (run_program({"unzip", "-q", "-o", src.string(), "-d", cleanup.string()}) != 0) {
      fs::remove_all(cleanup, ec);
      out.message = source + ": not a readable zip file (is `unzip` installed?)";
      return out;
    }
    auto root = plugin_root_in(cleanup);
    if (!root) {
      fs::remove_all(cleanup, ec);
      out.message = source + ": the zip holds no plugin folder with a config.json";
      return out;
    }
    folder = *root;
    out.name = folder == cleanup ? src.stem().string() : folder.filename().string();
  } else if (source.find('/') == std::string::npos && fs::is_directory(paths.in_library(source), ec)) {
    folder = paths.in_library(source);
    out.name = source;
  } else {
    out.message = "Cannot find " + std::string(paths.noun()) + " `" + source +
                  "`: not a folder, a zip file, or a name in the plugin library (see `honeycomb " +
                  std::string(paths.noun()) + " list --remote`)";
    return out;
  }

  auto finish = [&](InstallOutcome o) {
    if (!cleanup.empty()) {
      fs::remove_all(cleanup, ec);
    }
    return o;
  };
  if (paths.kind == plugin::PluginKind::service) {
    // Everything else knows a service by its config.json's service.name (its
    // code, pidfile, logs, `service run NAME`), so it is installed under that
    // name, whatever the folder or zip file is called.
    auto spec = plugin::load_service_spec(folder);
    if (!spec) {
      out.message = spec.error().message();
      return finish(out);
    }
    out.name = spec->name;
  }
  if (paths.is_installed(out.name)) {
    out.status = InstallStatus::already_installed;
    return finish(out);
  }
  if (auto err = validate(paths, folder)) {
    out.message = *err;
    return finish(out);
  }
  const fs::path dest = paths.installed(out.name);
  fs::create_directories(paths.installed_root, ec);
  fs::remove_all(dest, ec);
  fs::copy(folder, dest, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) {
    out.message = "cannot copy " + folder.string() + " to " + dest.string() + ": " + ec.message();
    fs::remove_all(dest, ec);
    return finish(out);
  }
  // A copy made from an earlier run must not carry its state along.
  fs::remove(dest / ".args.json", ec);
  fs::remove_all(dest / "logs", ec);
  fs::remove_all(dest / ".deps", ec);
  install_requirements(out.name, dest, out.notes);
  out.status = InstallStatus::installed;
  return finish(out);
}

}  // namespace honeycomb::host
