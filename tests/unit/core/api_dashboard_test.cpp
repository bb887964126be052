// The dashboard's folder as the core loads it (bounds, symbolic links,
// special files, precompressed siblings), the request paths that may name
// one of its files, and where an automatic dashboard_dir looks. Serving
// over HTTP: api_server_test.cpp (DashboardApiTest).
#include "core/api/dashboard.hpp"
#include "core/config.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace honeycomb::core::api {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "honeycomb-dashboard-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write(const fs::path& file, std::string_view content) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << content;
}

const Dashboard& loaded(const std::variant<Dashboard, std::string>& result) {
  if (const auto* error = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << *error;
    static const Dashboard none;
    return none;
  }
  return std::get<Dashboard>(result);
}

TEST(DashboardTest, RequestPathsThatNameAFile) {
  EXPECT_EQ(dashboard_path("/"), "index.html");
  EXPECT_EQ(dashboard_path("/index.html"), "index.html");
  EXPECT_EQ(dashboard_path("/favicon.svg"), "favicon.svg");
  EXPECT_EQ(dashboard_path("/assets/index-4f3a_2b-1c.js"), "assets/index-4f3a_2b-1c.js");
  EXPECT_EQ(dashboard_path("/assets/fonts/a.woff2"), "assets/fonts/a.woff2");
  for (const char* refused : {"",
                              "index.html",
                              "/..",
                              "/../x",
                              "/assets/../../etc/passwd",
                              "/assets/..",
                              "/%2e%2e/x",
                              "/assets/%2E%2E/x",
                              "/assets/a%2fb",
                              "/assets\\..\\x",
                              "/a\\b",
                              "//x",
                              "/assets//x.js",
                              "/./index.html",
                              "/assets/./x.js",
                              "/assets/",
                              "/index.html/",
                              "/other/x.js",
                              "/api",
                              "/api/v1/nodes",
                              "/health",
                              "/metrics",
                              "/a b",
                              "/\xc3\xa9.js",
                              "/x?y"}) {
    EXPECT_EQ(dashboard_path(refused), std::nullopt) << refused;
  }
  EXPECT_EQ(dashboard_path(std::string_view("/a\0b", 4)), std::nullopt);
}

TEST(DashboardTest, ContentTypesByExtension) {
  EXPECT_EQ(dashboard_content_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(dashboard_content_type("assets/a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard_content_type("assets/a.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard_content_type("assets/a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(dashboard_content_type("favicon.svg"), "image/svg+xml");
  EXPECT_EQ(dashboard_content_type("a.png"), "image/png");
  EXPECT_EQ(dashboard_content_type("favicon.ico"), "image/x-icon");
  EXPECT_EQ(dashboard_content_type("a.json"), "application/json");
  EXPECT_EQ(dashboard_content_type("assets/a.js.map"), "application/json");
  EXPECT_EQ(dashboard_content_type("assets/a.woff2"), "font/woff2");
  EXPECT_EQ(dashboard_content_type("robots.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(dashboard_content_type("assets/x.bin"), "application/octet-stream");
  EXPECT_EQ(dashboard_content_type("LICENSE"), "application/octet-stream");
  EXPECT_EQ(dashboard_content_type("assets.d/js"), "application/octet-stream");
}

TEST(DashboardTest, LoadsTopLevelFilesAndTheAssetsTreeOnly) {
  TempDir dir;
  const auto web = dir.path() / "web";
  write(web / "index.html", "<html></html>");
  write(web / "favicon.svg", "<svg/>");
  write(web / "assets" / "app-1.js", "js");
  write(web / "assets" / "app-1.js.gz", "gz");
  write(web / "assets" / "fonts" / "f.woff2", "font");
  write(web / "private" / "notes.txt", "not served");
  write(web / "with space.txt", "unservable name");
  write(dir.path() / "secret.txt", "outside");
  fs::create_symlink(dir.path() / "secret.txt", web / "assets" / "escape.txt");
  fs::create_symlink(web / "favicon.svg", web / "assets" / "icon.svg");  // inside: fine
  fs::create_directory_symlink(dir.path(), web / "assets" / "up");
  ASSERT_EQ(::mkfifo((web / "assets" / "pipe").c_str(), 0600), 0);

  const auto result = Dashboard::load(web);
  const Dashboard& d = loaded(result);
  EXPECT_TRUE(d.built());
  EXPECT_EQ(d.dir(), fs::canonical(web));
  ASSERT_NE(d.find("index.html"), nullptr);
  EXPECT_EQ(*d.find("index.html")->body, "<html></html>");
  EXPECT_EQ(d.find("index.html")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(d.find("index.html")->etag.front(), '"');
  ASSERT_NE(d.find("assets/fonts/f.woff2"), nullptr);
  ASSERT_NE(d.find("assets/icon.svg"), nullptr);
  EXPECT_EQ(*d.find("assets/icon.svg")->body, "<svg/>");
  const auto* js = d.find("assets/app-1.js");
  ASSERT_NE(js, nullptr);
  ASSERT_NE(js->gzip, nullptr);
  EXPECT_EQ(*js->gzip, "gz");
  EXPECT_NE(js->gzip_etag, js->etag);
  EXPECT_EQ(d.find("assets/app-1.js.gz"), nullptr) << "an encoding of its file, not a file";
  for (const char* absent : {"private/notes.txt", "with space.txt", "assets/escape.txt", "assets/up/secret.txt",
                             "assets/pipe", "secret.txt"}) {
    EXPECT_EQ(d.find(absent), nullptr) << absent;
  }
  EXPECT_EQ(d.file_count(), 5U);  // index.html favicon.svg app-1.js f.woff2 icon.svg
  std::string warnings;
  for (const auto& w : d.warnings()) {
    warnings += w + "\n";
  }
  EXPECT_NE(warnings.find("escape.txt: skipped (a symbolic link leading out of the folder)"), std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find("pipe: skipped (not a regular file)"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("with space.txt: skipped"), std::string::npos) << warnings;
}

TEST(DashboardTest, BoundsAndAMissingIndexAreErrors) {
  TempDir dir;
  const auto web = dir.path() / "web";
  write(web / "index.html", "<html></html>");
  write(web / "assets" / "a.js", std::string(600, 'a'));
  write(web / "assets" / "b.js", std::string(600, 'b'));

  DashboardLimits small;
  small.max_bytes = 1000;
  auto result = Dashboard::load(web, small);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_NE(std::get<std::string>(result).find("over 1000 bytes together"), std::string::npos)
      << std::get<std::string>(result);

  DashboardLimits few;
  few.max_files = 2;
  result = Dashboard::load(web, few);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_NE(std::get<std::string>(result).find("more than 2 files"), std::string::npos);

  DashboardLimits shallow;
  shallow.max_depth = 1;
  write(web / "assets" / "x" / "y" / "z.js", "deep");
  result = Dashboard::load(web, shallow);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_NE(std::get<std::string>(result).find("more than 1 folder levels below assets/"), std::string::npos);

  EXPECT_EQ(loaded(Dashboard::load(web)).file_count(), 4U);

  fs::remove(web / "index.html");
  result = Dashboard::load(web);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_NE(std::get<std::string>(result).find("no index.html"), std::string::npos);
  result = Dashboard::load(dir.path() / "missing");
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
}

TEST(DashboardTest, OpenFollowsDashboardDir) {
  TempDir dir;
  std::ostringstream out;
  spdlog::logger log("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  std::string error;

  EXPECT_EQ(open_dashboard("none", log, error), nullptr);
  EXPECT_EQ(error, "");

  // A configured folder that cannot be served stops the core.
  auto d = open_dashboard((dir.path() / "empty").string(), log, error);
  EXPECT_EQ(d, nullptr);
  EXPECT_NE(error.find("dashboard_dir: "), std::string::npos) << error;

  const auto web = dir.path() / "web";
  write(web / "index.html", "<html>configured</html>");
  error.clear();
  d = open_dashboard(web.string(), log, error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_TRUE(d->built());
  EXPECT_EQ(*d->find("index.html")->body, "<html>configured</html>");
  EXPECT_NE(out.str().find("dashboard: serving " + fs::canonical(web).string()), std::string::npos) << out.str();

  // Automatic: $HONEYCOMB_DASHBOARD_DIR comes first.
  const char* before = std::getenv("HONEYCOMB_DASHBOARD_DIR");
  const std::string saved = before != nullptr ? before : "";
  ::setenv("HONEYCOMB_DASHBOARD_DIR", web.c_str(), 1);
  EXPECT_EQ(dashboard_candidates().front(), web);
  d = open_dashboard("", log, error);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->dir(), fs::canonical(web));
  if (before != nullptr) {
    ::setenv("HONEYCOMB_DASHBOARD_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("HONEYCOMB_DASHBOARD_DIR");
  }
  const auto candidates = dashboard_candidates();
  ASSERT_GE(candidates.size(), 2U);
  EXPECT_EQ(candidates.back(), fs::path(HONEYCOMB_SOURCE_DIR) / "web" / "dist");
  EXPECT_EQ(candidates[candidates.size() - 2].filename(), "dashboard");
}

/// Writes `text` as core.yml in `dir` and loads it over the defaults.
std::variant<CoreConfig, std::string> load_core_yml(const TempDir& dir, const std::string& text) {
  const auto file = dir.path() / "core.yml";
  std::ofstream(file) << text;
  return load_core_config(file, CoreConfig{});
}

TEST(DashboardTest, ConfigKey) {
  TempDir dir;
  const auto file = dir.path() / "core.yml";
  auto load = [&](const std::string& text) { return load_core_yml(dir, text); };
  auto c = load("api_listen: 127.0.0.1:9002\n");
  ASSERT_TRUE(std::holds_alternative<CoreConfig>(c));
  EXPECT_EQ(std::get<CoreConfig>(c).dashboard_dir, "");
  c = load("dashboard_dir: none\n");
  ASSERT_TRUE(std::holds_alternative<CoreConfig>(c));
  EXPECT_EQ(std::get<CoreConfig>(c).dashboard_dir, "none");
  c = load("dashboard_dir: " + dir.path().string() + "\n");
  ASSERT_TRUE(std::holds_alternative<CoreConfig>(c));
  EXPECT_EQ(std::get<CoreConfig>(c).dashboard_dir, dir.path().string());
  for (const char* bad : {"dashboard_dir: /no/such/folder\n", "dashboard_dir: [a, b]\n"}) {
    c = load(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(c)) << bad;
    EXPECT_NE(std::get<std::string>(c).find("dashboard_dir: "), std::string::npos) << std::get<std::string>(c);
  }
  const auto generated = generate_core_config(CoreConfig{});
  EXPECT_NE(generated.find("# dashboard_dir: "), std::string::npos);
  std::ofstream(file) << generated;
  EXPECT_TRUE(std::holds_alternative<CoreConfig>(load_core_config(file, CoreConfig{})));
}

// ingest_batch: events per storage transaction, never more than the queue
// that holds them.
TEST(CoreConfigTest, IngestBatch) {
  TempDir dir;
  auto load = [&](const std::string& text) { return load_core_yml(dir, text); };
  EXPECT_EQ(CoreConfig{}.storage.max_batch, 0U);  // the store's own
  EXPECT_EQ(CoreConfig{}.storage.batch_limit(store::kSqliteBatch), 32768U);
  EXPECT_EQ(CoreConfig{}.storage.batch_limit(store::kPostgresBatch), 8192U);
  auto c = load("ingest_batch: 4096\n");
  ASSERT_TRUE(std::holds_alternative<CoreConfig>(c));
  EXPECT_EQ(std::get<CoreConfig>(c).storage.max_batch, 4096U);
  c = load("ingest_queue: 200000\ningest_batch: 100000\n");
  ASSERT_TRUE(std::holds_alternative<CoreConfig>(c));
  EXPECT_EQ(std::get<CoreConfig>(c).storage.max_batch, 100000U);
  c = load("ingest_queue: 4096\ningest_batch: 8192\n");
  ASSERT_TRUE(std::holds_alternative<std::string>(c));
  EXPECT_NE(std::get<std::string>(c).find("ingest_batch (8192) is larger than ingest_queue (4096)"), std::string::npos)
      << std::get<std::string>(c);
  // Left to the store, the batch never takes more than half a small queue.
  c = load("ingest_queue: 4096\n");
  ASSERT_TRUE(std::holds_alternative<CoreConfig>(c));
  EXPECT_EQ(std::get<CoreConfig>(c).storage.batch_limit(store::kSqliteBatch), 2048U);
  c = load("ingest_batch: lots\n");
  ASSERT_TRUE(std::holds_alternative<std::string>(c));
  EXPECT_NE(std::get<std::string>(c).find("ingest_batch"), std::string::npos) << std::get<std::string>(c);
  EXPECT_NE(generate_core_config(CoreConfig{}).find("\ningest_batch: 0\n"), std::string::npos);
}

}  // namespace
}  // namespace honeycomb::core::api
