#include "node/pot_sandbox.hpp"

#include "common/json_text.hpp"
#include "node/potstore.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace honeycomb::node {

namespace fs = std::filesystem;

namespace {

// AddressSanitizer's shadow memory is a reservation of terabytes of address
// space: a sanitized honeycomb (the node's own binary runs honeycomb-service
// pots) cannot start under any RLIMIT_AS.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool names_a_port(std::string_view key) {
  return key == "port" || ends_with(key, "_port");
}
bool names_ports(std::string_view key) {
  return key == "ports" || ends_with(key, "_ports");
}

std::optional<std::uint16_t> port_number(std::string_view text) {
  unsigned n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || p != text.data() + text.size() || n < 1 || n > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(n);
}

/// "21,23,8000-8003" (spaces allowed). A range adds its first
/// kMaxRecordedPorts ports: only the lowest are kept anyway.
void add_port_list(std::string_view text, std::vector<std::uint16_t>& out) {
  while (!text.empty()) {
    const auto end = text.find_first_of(", ");
    const auto item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (item.empty()) {
      continue;
    }
    const auto dash = item.find('-');
    if (dash == std::string_view::npos) {
      if (auto p = port_number(item)) {
        out.push_back(*p);
      }
      continue;
    }
    const auto low = port_number(item.substr(0, dash));
    const auto high = port_number(item.substr(dash + 1));
    if (low && high && *low <= *high) {
      for (unsigned p = *low; p <= *high && p - *low < kMaxRecordedPorts; ++p) {
        out.push_back(static_cast<std::uint16_t>(p));
      }
    }
  }
}

/// Twisted endpoints ("tcp:2222:interface=0.0.0.0", "ssl:443:...") anywhere
/// in a value.
void add_endpoints(std::string_view text, std::vector<std::uint16_t>& out) {
  for (const std::string_view scheme : {"tcp:", "tcp6:", "ssl:", "udp:"}) {
    for (auto at = text.find(scheme); at != std::string_view::npos; at = text.find(scheme, at + 1)) {
      if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0) {
        continue;
      }
      const auto digits = text.substr(at + scheme.size());
      const auto end = digits.find_first_not_of("0123456789");
      if (auto p = port_number(digits.substr(0, end))) {
        out.push_back(*p);
      }
    }
  }
}

std::optional<std::string> read_first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return std::nullopt;
  }
  return line;
}

template <class T>
T read_number(const fs::path& file, T fallback) {
  const auto line = read_first_line(file);
  T n{};
  if (!line || std::from_chars(line->data(), line->data() + line->size(), n).ec != std::errc{}) {
    return fallback;
  }
  return n;
}

bool account_exists(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  return ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr;
}
bool group_exists(gid_t gid) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  return ::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr;
}

/// Can a process of uid:gid (no supplementary group) search every folder
/// above `path` and `path` itself when it is a folder? The first one it
/// cannot, or nullopt. Looks at the mode bits (not at ACLs).
std::optional<fs::path> blocked_at(const fs::path& path, uid_t uid, gid_t gid) {
  fs::path current = "/";
  std::vector<fs::path> chain;
  for (const auto& part : path.lexically_normal().relative_path()) {
    current /= part;
    chain.push_back(current);
  }
  chain.insert(chain.begin(), fs::path("/"));
  for (const auto& dir : chain) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      break;  // the end of the path (a file), or missing: the child says what is wrong
    }
    const mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if ((st.st_mode & bit) == 0) {
      return dir;
    }
  }
  return std::nullopt;
}

/// The highest folder on the way to `dir` that other users cannot search,
/// else `dir` itself: the pot's private view mounts an empty tmpfs there.
fs::path hide_point(const fs::path& dir) {
  fs::path current = "/";
  for (const auto& part : dir.lexically_normal().relative_path()) {
    current /= part;
    struct stat st {};
    if (::stat(current.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_IXOTH) == 0) {
      return current;
    }
  }
  return dir;
}

bool is_under(const fs::path& path, const fs::path& dir) {
  const auto rel = path.lexically_normal().lexically_relative(dir.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

/// A child that tries what a pot's private view needs first: a mount
/// namespace with private mounts.
bool can_make_mount_namespace() {
  const pid_t pid = ::fork();
  if (pid < 0) {
    return false;
  }
  if (pid == 0) {
    const bool ok = ::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string give_dir(int dir_fd, const fs::path& shown, uid_t uid, gid_t gid, int depth) {
  if (depth > 256) {
    return fmt::format("{}: more than 256 levels of folders", shown.string());
  }
  const int list_fd = ::dup(dir_fd);
  DIR* dir = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
  if (dir == nullptr) {
    if (list_fd >= 0) {
      ::close(list_fd);
    }
    return fmt::format("cannot read {}: {}", shown.string(), std::strerror(errno));
  }
  std::string error;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    struct stat st {};
    if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;  // gone meanwhile
    }
    if (S_ISDIR(st.st_mode)) {
      const int sub = ::openat(dir_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        continue;  // replaced by something else meanwhile: not ours to follow
      }
      auto sub_error = give_dir(sub, shown / name, uid, gid, depth + 1);
      if ((st.st_uid != uid || st.st_gid != gid) && ::fchown(sub, uid, gid) != 0 && sub_error.empty()) {
        sub_error = fmt::format("cannot give {}: {}", (shown / name).string(), std::strerror(errno));
      }
      ::close(sub);
      if (error.empty()) {
        error = std::move(sub_error);
      }
      continue;
    }
    if (st.st_uid == uid && st.st_gid == gid) {
      continue;
    }
    if (!S_ISLNK(st.st_mode) && st.st_nlink > 1) {
      continue;  // a hard link may be another's file: never given away
    }
    if (::fchownat(dir_fd, entry->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && error.empty()) {
      error = fmt::format("cannot give {}: {}", (shown / name).string(), std::strerror(errno));
    }
  }
  ::closedir(dir);
  return error;
}

std::string join_ports(const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (const auto p : ports) {
    out += out.empty() ? "" : ",";
    out += std::to_string(p);
  }
  return out;
}

}  // namespace

std::vector<std::uint16_t> pot_ports(const CatalogEntry* entry, const std::map<std::string, std::string>& config) {
  std::vector<std::uint16_t> ports;
  auto look_at = [&ports](std::string_view key, std::string_view value) {
    if (names_a_port(key) || names_ports(key)) {
      add_port_list(value, ports);
    }
    add_endpoints(value, ports);
  };
  if (entry != nullptr) {
    for (const auto& key : entry->config) {
      if (key.type == CatalogEntry::ConfigKey::Type::boolean) {
        continue;
      }
      const auto given = config.find(key.key);
      if (given != config.end()) {
        look_at(key.key, given->second);
      } else if (key.default_value) {
        look_at(key.key, *key.default_value);
      }
    }
    if (ports.empty()) {
      ports = entry->default_ports;
    }
  } else {
    for (const auto& [key, value] : config) {
      look_at(key, value);
    }
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  ports.erase(std::remove(ports.begin(), ports.end(), std::uint16_t{0}), ports.end());
  if (ports.size() > kMaxRecordedPorts) {
    ports.resize(kMaxRecordedPorts);
  }
  return ports;
}

std::uint16_t unprivileged_port_start() {
  const auto n = read_number<unsigned>("/proc/sys/net/ipv4/ip_unprivileged_port_start", 1024);
  return static_cast<std::uint16_t>(std::min(n, 65535U));
}

std::optional<std::uint32_t> free_uid_slot(std::uint32_t base, const std::set<std::uint32_t>& used) {
  for (std::uint32_t slot = 0; slot < kPotUidSlots; ++slot) {
    if (used.contains(slot)) {
      continue;
    }
    const std::uint64_t id = std::uint64_t{base} + slot;
    if (id >= 0xFFFF'FFFFULL) {
      return std::nullopt;
    }
    if (!account_exists(static_cast<uid_t>(id)) && !group_exists(static_cast<gid_t>(id))) {
      return slot;
    }
  }
  return std::nullopt;
}

std::string give_tree(const fs::path& root, uid_t uid, gid_t gid) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? std::string() : fmt::format("cannot open {}: {}", root.string(), std::strerror(errno));
  }
  auto error = give_dir(fd, root, uid, gid, 0);
  if (::fchown(fd, uid, gid) != 0 && error.empty()) {
    error = fmt::format("cannot give {}: {}", root.string(), std::strerror(errno));
  }
  ::close(fd);
  return error;
}

PotSandbox::PotSandbox(PotSandboxOptions options, const fs::path& pots_dir)
    : options_(std::move(options)), pots_dir_(fs::absolute(pots_dir).lexically_normal()) {
  data_dir_ = pots_dir_.parent_path();
}

std::vector<std::string> PotSandbox::start() {
  std::vector<std::string> warnings;
  root_ = ::geteuid() == 0;
  port_start_ = unprivileged_port_start();
  last_cap_ = read_number<int>("/proc/sys/kernel/cap_last_cap", 40);
  nr_open_ = read_number<std::uint64_t>("/proc/sys/fs/nr_open", std::uint64_t{1} << 20);
  rlimit r{};
  hard_open_files_ = ::getrlimit(RLIMIT_NOFILE, &r) == 0 ? r.rlim_max : RLIM_INFINITY;
  hard_cpu_ = ::getrlimit(RLIMIT_CPU, &r) == 0 ? r.rlim_max : RLIM_INFINITY;
  hard_memory_ = ::getrlimit(RLIMIT_AS, &r) == 0 ? r.rlim_max : RLIM_INFINITY;
  if (options_.memory_mb > 0 && kSanitized) {
    warnings.emplace_back(
        "pot_memory_mb is not applied: this honeycomb is built with a sanitizer, whose shadow memory reserves "
        "terabytes of address space (RLIMIT_AS would stop every honeycomb-service pot)");
  }
  if (!root_) {
    warnings.push_back(fmt::format(
        "the node does not run as root (uid {}): its pots run as its own user and can read what it can (its keys, "
        "spool and config); their limits still apply. Run the node as root to give each pot its own user",
        ::geteuid()));
    return warnings;
  }
  account_.reset();
  account_error_.clear();
  if (!options_.user.empty()) {
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16384);
    if (::getpwnam_r(options_.user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
      account_error_ = fmt::format("pot_user: no account named \"{}\" on this machine", options_.user);
    } else if (found->pw_uid == 0) {
      account_error_ = fmt::format("pot_user: \"{}\" is root; pots never run as root", options_.user);
    } else {
      account_ = Identity{options_.user, found->pw_uid, found->pw_gid};
    }
    if (!account_error_.empty()) {
      warnings.push_back(account_error_ + ": no pot can start");
    }
  }
  mounts_ = options_.private_mounts && can_make_mount_namespace();
  if (!mounts_) {
    if (options_.private_mounts) {
      warnings.emplace_back(
          "this node cannot make a mount namespace (no CAP_SYS_ADMIN?): pots are kept out of the node's files by "
          "file modes only (data_dir and its pots folder 0711, everything else in data_dir closed to others)");
    }
    std::error_code ec;
    fs::create_directories(pots_dir_, ec);
    ::chmod(data_dir_.c_str(), 0711);
    ::chmod(pots_dir_.c_str(), 0711);
    if (const auto blocked = blocked_at(pots_dir_, 65534, 65534)) {
      warnings.push_back(fmt::format(
          "other users cannot enter {}, above the pots' folders: pots will not start. Put data_dir where they may "
          "pass (e.g. /var/lib/honeycomb) or allow private mounts",
          blocked->string()));
    }
  }
  return warnings;
}

std::variant<PotSandbox::Identity, std::string> PotSandbox::identity(const PotSpec& spec) const {
  if (!root_) {
    return Identity{"the node's own", ::geteuid(), ::getegid()};
  }
  if (!options_.user.empty()) {
    if (account_) {
      return *account_;
    }
    return account_error_;
  }
  if (!spec.uid_slot || *spec.uid_slot >= kPotUidSlots) {
    return std::string("the pot has no uid slot (its pot.json predates them and could not be updated)");
  }
  const auto id = static_cast<uid_t>(options_.uid_base + *spec.uid_slot);
  return Identity{"dynamic", id, static_cast<gid_t>(id)};
}

fs::path PotSandbox::workdir_of(const PotSpec& spec) const {
  if (fs::absolute(spec.workdir).lexically_normal() == pot_dir(spec).lexically_normal()) {
    return home_of(spec);
  }
  return spec.workdir;
}

std::variant<PotSandbox::Plan, std::string> PotSandbox::plan(const PotSpec& spec, const std::vector<std::string>& argv,
                                                             const fs::path& workdir, bool as_pot) const {
  auto who = identity(spec);
  if (auto* error = std::get_if<std::string>(&who)) {
    return *error;
  }
  const auto& id = std::get<Identity>(who);
  Plan p;
  p.workdir = workdir;
  ChildSandbox& c = p.child;
  c.last_cap = last_cap_;
  // A node that is not root cannot raise its own hard limits.
  auto capped = [this](std::uint64_t value, std::uint64_t hard) {
    return root_ || hard == RLIM_INFINITY ? value : std::min(value, hard);
  };
  std::optional<std::uint64_t> memory_mb;
  if (options_.memory_mb > 0 && !kSanitized) {
    const auto bytes = capped(options_.memory_mb << 20, hard_memory_);
    c.limits.push_back({RLIMIT_AS, bytes, bytes});
    memory_mb = bytes >> 20;
  }
  std::optional<std::uint64_t> cpu;
  if (options_.cpu_seconds > 0) {
    // SIGXCPU at the limit (a program may stop cleanly), SIGKILL a second later.
    const auto hard = capped(options_.cpu_seconds + 1, hard_cpu_);
    cpu = std::min(options_.cpu_seconds, hard);
    c.limits.push_back({RLIMIT_CPU, *cpu, hard});
  }
  const auto files = capped(std::min(options_.open_files, nr_open_), hard_open_files_);
  c.limits.push_back({RLIMIT_NOFILE, std::min<std::uint64_t>(files, 1024), files});
  // RLIMIT_NPROC counts every process and thread of the uid: with the
  // node's own uid it would count the node's and its user's as well.
  std::optional<std::uint64_t> processes;
  if (root_) {
    processes = options_.processes;
    c.limits.push_back({RLIMIT_NPROC, options_.processes, options_.processes});
  }
  c.nice = options_.nice;
  const auto& ports = spec.ports ? *spec.ports : std::vector<std::uint16_t>{};
  std::vector<std::uint16_t> low;
  for (const auto port : ports) {
    if (port < port_start_) {
      low.push_back(port);
    }
  }
  std::string isolation = "none (the node is not root)";
  if (root_) {
    c.switch_user = true;
    c.uid = id.uid;
    c.gid = id.gid;
    c.bind_service = as_pot && !low.empty();
    // A dynamic uid has no name: the pot's id stands for it.
    const std::string name = options_.user.empty() ? spec.pot_id : options_.user;
    p.env = {{"HOME", home_of(spec).string()}, {"USER", name}, {"LOGNAME", name}};
    // The node's own (root's) folders: out of the pot's reach anyway.
    p.unset_env = {"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"};
    const fs::path dir = pot_dir(spec);
    fs::path hidden;
    if (mounts_) {
      isolation = "mount namespace";
      hidden = hide_point(data_dir_);
      c.hide = hidden.string();
      fs::path made = hidden;
      for (const auto& part : dir.lexically_relative(hidden)) {
        made /= part;
        c.make_dirs.push_back(made.string());
      }
      c.expose = dir.string();
      for (const auto& file : options_.conceal) {
        // Under the hidden folder it is gone already.
        std::error_code ec;
        if (!is_under(file, hidden) && fs::is_regular_file(file, ec)) {
          c.conceal.push_back(file.string());
        }
      }
    } else {
      isolation = "file modes";
      if (auto blocked = blocked_at(workdir, id.uid, id.gid)) {
        return fmt::format(
            "uid {} cannot enter {} (on the way to {}): put data_dir where other users may pass "
            "(e.g. /var/lib/honeycomb), or let the node make mount namespaces (CAP_SYS_ADMIN)",
            id.uid, blocked->string(), workdir.string());
      }
    }
    // Its PATH: the node's, without what the pot cannot reach (root's
    // ~/.pyenv/shims, say), so that a bare command name finds one it can run.
    std::string path;
    const char* node_path = std::getenv("PATH");
    std::string_view entries = node_path != nullptr ? node_path : "";
    while (!entries.empty()) {
      const auto colon = entries.find(':');
      const fs::path entry(std::string(entries.substr(0, colon)));
      entries = colon == std::string_view::npos ? std::string_view{} : entries.substr(colon + 1);
      if (!entry.is_absolute() || (!hidden.empty() && is_under(entry, hidden) && !is_under(entry, dir)) ||
          blocked_at(entry, id.uid, id.gid)) {
        continue;
      }
      path += (path.empty() ? "" : ":") + entry.string();
    }
    if (path.empty()) {
      path = "/usr/local/bin:/usr/bin:/bin";
    }
    p.env.emplace_back("PATH", path);
    // The command itself must be within the pot's reach.
    if (!argv.empty()) {
      if (auto exe = find_executable(argv.front(), path); exe && exe->is_absolute()) {
        const auto exe_path = exe->lexically_normal();
        if (!hidden.empty() && is_under(exe_path, hidden) && !is_under(exe_path, dir)) {
          return fmt::format(
              "{} is in {}, which pots do not see (other users cannot enter it): install it where "
              "other users may run it",
              exe_path.string(), hidden.string());
        }
        if (!is_under(exe_path, dir)) {
          if (auto blocked = blocked_at(exe_path.parent_path(), id.uid, id.gid)) {
            return fmt::format("uid {} cannot reach {}: {} is closed to other users", id.uid, exe_path.string(),
                               blocked->string());
          }
        }
      }
    }
  }

  std::string& j = p.json;
  j = "{\"user\":";
  json_text::append_string(j, id.user);
  j += fmt::format(R"(,"uid":{},"gid":{},"isolation":"{}",)", id.uid, id.gid, isolation);
  auto number_or_null = [](const std::optional<std::uint64_t>& n) {
    return n ? std::to_string(*n) : std::string("null");
  };
  j += fmt::format(R"("memory_mb":{},"cpu_seconds":{},"open_files":{},"processes":{},"nice":{},)",
                   number_or_null(memory_mb), number_or_null(cpu), files, number_or_null(processes), c.nice);
  if (options_.memory_mb > 0 && kSanitized) {
    j += R"("memory_note":"not applied: a sanitizer build reserves terabytes of address space",)";
  }
  j += fmt::format(R"("capabilities":[{}],"ports":[{}],"privileged_ports":[{}],"no_new_privs":true}})",
                   c.bind_service ? "\"CAP_NET_BIND_SERVICE\"" : "", join_ports(ports), join_ports(low));

  p.summary = fmt::format(
      "uid {} gid {} ({}), {}, memory {}, CPU {}, open files {}, processes {}, capabilities {}", id.uid, id.gid,
      id.user, isolation, memory_mb ? fmt::format("{} MiB", *memory_mb) : "unlimited",
      cpu ? fmt::format("{} s", *cpu) : "unlimited", files, processes ? std::to_string(*processes) : "not limited",
      c.bind_service ? fmt::format("CAP_NET_BIND_SERVICE (port {})", join_ports(low)) : "none");
  if (!root_ && as_pot && !low.empty()) {
    p.summary += fmt::format("; port {} is below {} and this node is not root: binding it may fail", join_ports(low),
                             port_start_);
  }
  return p;
}

std::string PotSandbox::prepare_files(const PotSpec& spec) {
  if (!root_) {
    return {};
  }
  auto who = identity(spec);
  if (auto* error = std::get_if<std::string>(&who)) {
    return *error;
  }
  const auto& id = std::get<Identity>(who);
  const fs::path dir = pot_dir(spec);
  std::error_code ec;
  fs::create_directories(dir / "logs", ec);
  if (::lchown(dir.c_str(), 0, id.gid) != 0 || ::chmod(dir.c_str(), 0710) != 0) {
    return fmt::format("cannot close {} to others: {}", dir.string(), std::strerror(errno));
  }
  ::chmod((dir / "logs").c_str(), 0700);
  const fs::path home = home_of(spec);
  if (::mkdir(home.c_str(), 0700) != 0 && errno != EEXIST) {
    return fmt::format("cannot make {}: {}", home.string(), std::strerror(errno));
  }
  for (const auto& own : {home, dir / "app"}) {
    struct stat st {};
    if (::lstat(own.c_str(), &st) != 0) {
      continue;
    }
    if (st.st_uid != id.uid || st.st_gid != id.gid) {
      if (auto error = give_tree(own, id.uid, id.gid); !error.empty()) {
        return error;
      }
    }
  }
  ::chmod(home.c_str(), 0700);
  if (!mounts_) {
    // What else data_dir holds (node id, spool, keys, statistics) is closed
    // to other users: pots can pass through data_dir to their folders.
    ::chmod(data_dir_.c_str(), 0711);
    ::chmod(pots_dir_.c_str(), 0711);
    for (const auto& entry : fs::directory_iterator(data_dir_, ec)) {
      if (entry.path().filename() == pots_dir_.filename()) {
        continue;
      }
      struct stat st {};
      if (::lstat(entry.path().c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & 077) != 0) {
        ::chmod(entry.path().c_str(), st.st_mode & 07700);
      }
    }
  }
  return {};
}

std::string PotSandbox::hand_over(const PotSpec& spec) {
  if (!root_) {
    return {};
  }
  auto who = identity(spec);
  if (auto* error = std::get_if<std::string>(&who)) {
    return *error;
  }
  const auto& id = std::get<Identity>(who);
  for (const auto& own : {home_of(spec), pot_dir(spec) / "app"}) {
    if (auto error = give_tree(own, id.uid, id.gid); !error.empty()) {
      return error;
    }
  }
  return {};
}

std::string PotSandbox::describe() const {
  if (!root_) {
    return "as the node's user, with limits";
  }
  return fmt::format(
      "{}, {}",
      options_.user.empty() ? fmt::format("own uid per pot from {}", options_.uid_base) : "as " + options_.user,
      mounts_ ? "private mount view" : "file modes");
}

}  // namespace honeycomb::node
