#include "core/api/dashboard.hpp"

#include "security/ossl.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <span>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

// The source tree's built dashboard (CMake passes it); none in builds that
// do not (fuzz targets).
#ifndef HONEYCOMB_WEB_DIST_DIR
#define HONEYCOMB_WEB_DIST_DIR ""
#endif

namespace honeycomb::core::api {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

constexpr std::string_view kIndex = "index.html";
constexpr std::string_view kAssets = "assets/";
constexpr std::string_view kGzipSuffix = ".gz";

/// Every dashboard response's security headers (docs/SECURITY.md): the
/// page runs only its own scripts, talks only to its own origin (and the
/// WebSocket), cannot be framed, sends no referrer.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Shown at `/` when no built dashboard was found: self-contained (no
/// external resource), so the CSP above allows it.
constexpr std::string_view kNotBuiltPage = R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>honeycomb: the dashboard is not built</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 42em; margin: 4em auto; padding: 0 1em; color: #222; }
code { background: #f2f2f2; padding: 0.1em 0.3em; border-radius: 3px; }
</style>
</head>
<body>
<h1>The dashboard is not built</h1>
<p>This honeycomb core serves its web dashboard here, but it found no built copy of it.</p>
<p>Build it in the source tree with <code>scripts/build-web.sh</code> (it needs Node.js and npm, once), then restart
the core. Or set <code>dashboard_dir</code> in core.yml to the folder of a built dashboard.</p>
<p>The REST API works without it (docs/API.md).</p>
</body>
</html>
)";

bool safe_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '~';
}

/// A file or folder name the dashboard can serve: safe characters, not "."
/// or "..".
bool safe_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") {
    return false;
  }
  for (const char c : name) {
    if (!safe_char(c)) {
      return false;
    }
  }
  return true;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string etag_of(std::string_view content, std::string_view suffix = {}) {
  std::array<unsigned char, 32> digest{};
  if (!security::ossl::sha256(content, digest)) {
    return {};  // no ETag: the file is still served
  }
  return "\"" + security::ossl::base64url(std::span<const unsigned char>(digest.data(), 16)) + std::string(suffix) +
         "\"";
}

/// Whether `inner` (canonical) lies inside `root` (canonical).
bool inside(const fs::path& root, const fs::path& inner) {
  auto r = root.begin();
  auto i = inner.begin();
  for (; r != root.end(); ++r, ++i) {
    if (i == inner.end() || *r != *i) {
      return false;
    }
  }
  return true;
}

/// Reads the folder tree into `files` within the bounds.
class Loader {
 public:
  Loader(fs::path root, const DashboardLimits& limits, std::vector<std::string>& warnings)
      : root_(std::move(root)), limits_(limits), warnings_(warnings) {}

  /// `prefix`: the folder's relative path with a trailing '/' ("" at the top).
  bool folder(const fs::path& dir, const std::string& prefix, std::size_t depth, std::string& error) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      error = fmt::format("{}: {}", dir.string(), ec.message());
      return false;
    }
    for (const fs::directory_iterator end; it != end; it.increment(ec)) {
      if (ec) {
        error = fmt::format("{}: {}", dir.string(), ec.message());
        return false;
      }
      const fs::path& path = it->path();
      const std::string name = path.filename().string();
      const std::string relative = prefix + name;
      if (!safe_name(name)) {
        warnings_.push_back(fmt::format("{}: skipped (a name the dashboard does not serve)", path.string()));
        continue;
      }
      const auto link = fs::symlink_status(path, ec);
      if (ec) {
        error = fmt::format("{}: {}", path.string(), ec.message());
        return false;
      }
      if (fs::is_directory(link)) {
        // Only assets/ has subfolders that are served.
        if (prefix.empty() && name + "/" != kAssets) {
          continue;
        }
        if (!prefix.empty() && depth >= limits_.max_depth) {
          error = fmt::format("{}: more than {} folder levels below assets/", path.string(), limits_.max_depth);
          return false;
        }
        if (!folder(path, relative + "/", prefix.empty() ? 0 : depth + 1, error)) {
          return false;
        }
        continue;
      }
      fs::path target = path;
      if (fs::is_symlink(link)) {
        target = fs::canonical(path, ec);
        if (ec || !inside(root_, target)) {
          warnings_.push_back(fmt::format("{}: skipped (a symbolic link leading out of the folder)", path.string()));
          continue;
        }
      }
      const auto status = fs::status(target, ec);
      if (ec || !fs::is_regular_file(status)) {
        warnings_.push_back(fmt::format("{}: skipped (not a regular file)", path.string()));
        continue;
      }
      if (!file(target, relative, error)) {
        return false;
      }
    }
    return true;
  }

  std::vector<std::pair<std::string, std::string>>& files() { return files_; }

 private:
  /// Reads one file: opened without following a symbolic link (`path` is
  /// already resolved) and checked to be a regular file on the descriptor,
  /// so a file swapped meanwhile is refused rather than followed.
  bool file(const fs::path& path, const std::string& relative, std::string& error) {
    if (files_.size() >= limits_.max_files) {
      error = fmt::format("more than {} files", limits_.max_files);
      return false;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      error = fmt::format("{}: cannot be read: {}", path.string(), std::strerror(errno));
      return false;
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      error = fmt::format("{}: not a regular file", path.string());
      return false;
    }
    const std::uint64_t room = limits_.max_bytes - bytes_;
    std::string content;
    std::array<char, 65536> chunk{};
    for (;;) {
      const ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        error = fmt::format("{}: cannot be read: {}", path.string(), std::strerror(errno));
        return false;
      }
      if (n == 0) {
        break;
      }
      content.append(chunk.data(), static_cast<std::size_t>(n));
      if (content.size() > room) {
        error = fmt::format("{}: the dashboard's files are over {} together", path.string(),
                            limits_.max_bytes % (1024 * 1024) == 0
                                ? fmt::format("{} MiB", limits_.max_bytes / (1024 * 1024))
                                : fmt::format("{} bytes", limits_.max_bytes));
        return false;
      }
    }
    bytes_ += content.size();
    files_.emplace_back(relative, std::move(content));
    return true;
  }

  fs::path root_;
  const DashboardLimits& limits_;
  std::vector<std::string>& warnings_;
  std::vector<std::pair<std::string, std::string>> files_;
  std::uint64_t bytes_ = 0;
};

/// Whether an Accept-Encoding value accepts gzip ("gzip", "x-gzip", not
/// with q=0).
bool accepts_gzip(std::string_view header) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header.remove_prefix(comma == std::string_view::npos ? header.size() : comma + 1);
    const auto semicolon = item.find(';');
    std::string_view coding = item.substr(0, semicolon);
    std::string_view params = semicolon == std::string_view::npos ? std::string_view() : item.substr(semicolon + 1);
    auto trim = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
      }
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
      }
      return s;
    };
    coding = trim(coding);
    auto lower_equals = [](std::string_view a, std::string_view b) {
      if (a.size() != b.size()) {
        return false;
      }
      for (std::size_t i = 0; i < a.size(); ++i) {
        const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        if (c != b[i]) {
          return false;
        }
      }
      return true;
    };
    if (!lower_equals(coding, "gzip") && !lower_equals(coding, "x-gzip")) {
      continue;
    }
    params = trim(params);
    if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
      const auto q = params.substr(2);
      // q=0, q=0., q=0.0, ... refuse it; any other value accepts it.
      return !(q.find_first_not_of("0.") == std::string_view::npos && !q.empty() && q.front() == '0');
    }
    return true;
  }
  return false;
}

/// Whether an If-None-Match value names `etag` (or is "*").
bool none_match(std::string_view header, std::string_view etag) {
  if (etag.empty()) {
    return false;
  }
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header.remove_prefix(comma == std::string_view::npos ? header.size() : comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (item.substr(0, 2) == "W/") {
      item.remove_prefix(2);  // weak comparison (RFC 9110 13.1.2)
    }
    if (item == "*" || item == etag) {
      return true;
    }
  }
  return false;
}

/// X-Content-Type-Options: nosniff comes with every API response.
void security_headers(Reply& r) {
  r.headers.emplace_back(http::field::x_frame_options, "DENY");
  r.named_headers.emplace_back("Content-Security-Policy", std::string(kCsp));
  r.named_headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace

// ---- Dashboard ----

std::variant<Dashboard, std::string> Dashboard::load(const fs::path& dir, const DashboardLimits& limits) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) {
    return fmt::format("{}: {}", dir.string(), ec.message());
  }
  if (!fs::is_directory(root, ec)) {
    return fmt::format("{}: not a folder", dir.string());
  }
  Dashboard d;
  d.dir_ = root;
  d.built_ = true;
  Loader loader(root, limits, d.warnings_);
  std::string error;
  if (!loader.folder(root, "", 0, error)) {
    return fmt::format("{}: {}", dir.string(), error);
  }
  for (auto& [path, content] : loader.files()) {
    d.add(std::move(path), std::move(content));
  }
  d.attach_gzip_siblings();
  if (d.find(kIndex) == nullptr) {
    return fmt::format("{}: no index.html (not a built dashboard)", dir.string());
  }
  return d;
}

Dashboard Dashboard::from_files(const std::map<std::string, std::string>& files) {
  Dashboard d;
  d.built_ = true;
  for (const auto& [path, content] : files) {
    d.add(path, content);
  }
  d.attach_gzip_siblings();
  return d;
}

void Dashboard::add(std::string path, std::string content) {
  DashboardFile f;
  f.content_type = std::string(dashboard_content_type(path));
  f.etag = etag_of(content);
  bytes_ += content.size();
  f.body = std::make_shared<const std::string>(std::move(content));
  files_.insert_or_assign(std::move(path), std::move(f));
}

void Dashboard::attach_gzip_siblings() {
  for (auto it = files_.begin(); it != files_.end();) {
    const std::string_view name = it->first;
    if (ends_with(name, kGzipSuffix)) {
      const auto plain = files_.find(name.substr(0, name.size() - kGzipSuffix.size()));
      if (plain != files_.end()) {
        plain->second.gzip = it->second.body;
        plain->second.gzip_etag = etag_of(*it->second.body, ".gz");
        it = files_.erase(it);  // served as the plain file's encoding, not on its own
        continue;
      }
    }
    ++it;
  }
}

const DashboardFile* Dashboard::find(std::string_view path) const {
  const auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

// ---- requests ----

std::string_view dashboard_content_type(std::string_view path) {
  const auto slash = path.rfind('/');
  const auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    return "application/octet-stream";
  }
  const auto ext = name.substr(dot + 1);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kTypes{{
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/x-icon"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"woff2", "font/woff2"},
      {"woff", "font/woff"},
      {"txt", "text/plain; charset=utf-8"},
      {"webmanifest", "application/manifest+json"},
  }};
  for (const auto& [e, type] : kTypes) {
    if (e == ext) {
      return type;
    }
  }
  return "application/octet-stream";
}

std::optional<std::string_view> dashboard_path(std::string_view request_path) {
  if (request_path == "/") {
    return kIndex;
  }
  if (request_path.empty() || request_path.front() != '/') {
    return std::nullopt;
  }
  const std::string_view relative = request_path.substr(1);
  const bool top_level = relative.find('/') == std::string_view::npos;
  if (!top_level && relative.substr(0, kAssets.size()) != kAssets) {
    return std::nullopt;
  }
  if (top_level && (relative == "api" || relative == "health" || relative == "metrics")) {
    return std::nullopt;  // the API's own names are never files
  }
  std::string_view rest = relative;
  while (true) {
    const auto slash = rest.find('/');
    if (!safe_name(rest.substr(0, slash))) {
      return std::nullopt;  // empty, "." or ".." segment, or a character outside the safe set
    }
    if (slash == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  return relative;
}

std::vector<fs::path> dashboard_candidates() {
  std::vector<fs::path> out;
  if (const char* env = std::getenv("HONEYCOMB_DASHBOARD_DIR"); env != nullptr && *env != '\0') {
    out.emplace_back(env);
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back(exe.parent_path().parent_path() / "share" / "honeycomb" / "dashboard");
  }
  if (const std::string_view source = HONEYCOMB_WEB_DIST_DIR; !source.empty()) {
    out.emplace_back(source);
  }
  return out;
}

std::shared_ptr<const Dashboard> open_dashboard(const std::string& dashboard_dir, spdlog::logger& log,
                                                std::string& error) {
  if (dashboard_dir == "none") {
    log.info("dashboard: off (dashboard_dir: none)");
    return nullptr;
  }
  std::optional<fs::path> dir;
  std::string looked;
  if (!dashboard_dir.empty()) {
    dir = dashboard_dir;
  } else {
    for (const auto& candidate : dashboard_candidates()) {
      std::error_code ec;
      if (fs::is_regular_file(candidate / kIndex, ec)) {
        dir = candidate;
        break;
      }
      looked += looked.empty() ? "" : ", ";
      looked += candidate.string();
    }
  }
  if (!dir) {
    log.warn("dashboard: not built (no index.html in {}); / says how to build it (scripts/build-web.sh)", looked);
    return std::make_shared<const Dashboard>();
  }
  auto loaded = Dashboard::load(*dir);
  if (const auto* failed = std::get_if<std::string>(&loaded)) {
    if (!dashboard_dir.empty()) {
      error = "dashboard_dir: " + *failed;
      return nullptr;
    }
    log.error("dashboard: {}; / says how to build it (scripts/build-web.sh)", *failed);
    return std::make_shared<const Dashboard>();
  }
  auto& dashboard = std::get<Dashboard>(loaded);
  for (const auto& warning : dashboard.warnings()) {
    log.warn("dashboard: {}", warning);
  }
  log.info("dashboard: serving {} at / ({} files, {} KiB)", dashboard.dir().string(), dashboard.file_count(),
           (dashboard.bytes() + 1023) / 1024);
  return std::make_shared<const Dashboard>(std::move(dashboard));
}

std::optional<Reply> dashboard_reply(const Dashboard& dashboard, const Request& request) {
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head) {
    return std::nullopt;
  }
  const std::string_view target = request.target();
  const auto relative = dashboard_path(target.substr(0, target.find('?')));
  if (!relative) {
    return std::nullopt;
  }
  Reply r;
  r.head = method == http::verb::head;
  security_headers(r);
  if (!dashboard.built()) {
    if (*relative != kIndex) {
      return std::nullopt;
    }
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(kNotBuiltPage);
    return r;  // Cache-Control: no-store (the default): gone once the dashboard is built
  }
  const DashboardFile* file = dashboard.find(*relative);
  if (file == nullptr) {
    return std::nullopt;
  }
  const bool gzip = file->gzip && accepts_gzip(request[http::field::accept_encoding]);
  const std::string& etag = gzip ? file->gzip_etag : file->etag;
  r.content_type = file->content_type;
  // Vite puts a hash of the content in every name under assets/: a name
  // never changes its content, so browsers keep them; everything else is
  // revalidated (ETag) on each load, so a new build shows at once.
  r.headers.emplace_back(http::field::cache_control, relative->substr(0, kAssets.size()) == kAssets
                                                         ? "public, max-age=31536000, immutable"
                                                         : "no-cache");
  if (!etag.empty()) {
    r.headers.emplace_back(http::field::etag, etag);
  }
  if (file->gzip) {
    r.headers.emplace_back(http::field::vary, "Accept-Encoding");
  }
  if (none_match(request[http::field::if_none_match], etag)) {
    r.status = http::status::not_modified;
    r.head = false;  // no body either way
    return r;
  }
  if (gzip) {
    r.headers.emplace_back(http::field::content_encoding, "gzip");
  }
  r.shared_body = gzip ? file->gzip : file->body;
  return r;
}

}  // namespace honeycomb::core::api
