// The web dashboard's files (web/dist, built by scripts/build-web.sh):
// loaded into memory once when the core starts and served from there at `/`
// on the API port, without a token (they hold no data; the page asks for a
// token and calls the API with it). Serving never touches the disk, so it
// never blocks an I/O thread, and a request reaches a file only as an exact
// key of the in-memory map: no path is ever built from request text.
// docs/API.md "Dashboard (static files)".
#pragma once

#include "core/api/routes.hpp"

#include <spdlog/logger.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace honeycomb::core::api {

/// Named bounds of the dashboard folder (docs/LIMITS.md).
struct DashboardLimits {
  std::uint64_t max_bytes = 64ULL * 1024 * 1024;  ///< all files together
  std::size_t max_files = 1024;
  std::size_t max_depth = 8;  ///< folder levels below assets/
};

struct DashboardFile {
  std::shared_ptr<const std::string> body;
  std::shared_ptr<const std::string> gzip;  ///< the precompressed `<name>.gz` beside it, when there was one
  std::string content_type;
  std::string etag;       ///< strong, quoted: a hash of `body`
  std::string gzip_etag;  ///< of `gzip`
};

class Dashboard {
 public:
  /// No dashboard found: `/` answers a page saying how to build one.
  Dashboard() = default;

  /// Reads `dir`'s top-level files and its assets/ tree: regular files only,
  /// symbolic links only when they stay inside `dir`, names of
  /// [A-Za-z0-9._~-] only (others are skipped with a warning), index.html
  /// required. Over a bound, or unreadable: an error naming the file.
  static std::variant<Dashboard, std::string> load(const std::filesystem::path& dir,
                                                   const DashboardLimits& limits = {});
  /// From memory (tests, fuzzing): relative path ("index.html",
  /// "assets/app.js") -> content.
  static Dashboard from_files(const std::map<std::string, std::string>& files);

  bool built() const { return built_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::size_t file_count() const { return files_.size(); }
  std::uint64_t bytes() const { return bytes_; }
  /// What load() skipped (symbolic links leaving the folder, special files,
  /// unservable names), for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// The file at this relative path, or null.
  const DashboardFile* find(std::string_view path) const;

 private:
  void add(std::string path, std::string content);
  void attach_gzip_siblings();

  std::filesystem::path dir_;
  bool built_ = false;
  std::uint64_t bytes_ = 0;
  std::map<std::string, DashboardFile, std::less<>> files_;
  std::vector<std::string> warnings_;
};

/// Content-Type by the name's extension (html, js, mjs, css, svg, png, ico,
/// json, map, woff2, woff, txt, webmanifest); application/octet-stream else.
std::string_view dashboard_content_type(std::string_view path);

/// The relative path a request path names in the dashboard ("/" and
/// "/index.html": "index.html"; "/favicon.svg"; "/assets/a/b.js"), or
/// nullopt when it cannot name one: a path outside the top level and
/// assets/, a character outside [A-Za-z0-9._~-/] (so no %-escape,
/// backslash or NUL), an empty, "." or ".." segment, or one of the API's
/// own names (api, health, metrics).
std::optional<std::string_view> dashboard_path(std::string_view request_path);

/// Where an automatic dashboard_dir looks, in order: $HONEYCOMB_DASHBOARD_DIR,
/// <exe>/../share/honeycomb/dashboard, the source tree's web/dist.
std::vector<std::filesystem::path> dashboard_candidates();

/// What the core serves, from core.yml's dashboard_dir: null for "none"; for
/// "" the first candidate holding an index.html, or an unbuilt Dashboard
/// when there is none (or it cannot be loaded: logged); a configured folder
/// that cannot be loaded is an error (`error` set, null returned). Logs once
/// what it serves.
std::shared_ptr<const Dashboard> open_dashboard(const std::string& dashboard_dir, spdlog::logger& log,
                                                std::string& error);

/// The reply to a dashboard request: GET or HEAD of a path dashboard_path()
/// accepts and the dashboard holds (ETag, If-None-Match -> 304, a .gz
/// sibling when the client accepts gzip, cache and security headers), or
/// the "not built" page for `/`. nullopt for every other request: it is
/// the API's (and needs a token).
std::optional<Reply> dashboard_reply(const Dashboard& dashboard, const Request& request);

}  // namespace honeycomb::core::api
