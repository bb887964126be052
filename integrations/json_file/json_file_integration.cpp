// json_file: one alert per line, buffered, with size-based rotation.
#include "pipeline/integration.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::integrations {
namespace {

namespace fs = std::filesystem;
using pipeline::AlertRecordPtr;
using pipeline::SendResult;
using pipeline::TestResult;

constexpr std::size_t write_buffer_size = 256 * 1024;

class JsonFileIntegration final : public pipeline::Integration {
 public:
  explicit JsonFileIntegration(const pipeline::IntegrationContext& c)
      : path_(c.args.get<std::string>("filepath", "")),
        max_bytes_(static_cast<std::uint64_t>(c.args.get<std::int64_t>("max_size_mb", 100)) * 1024 * 1024),
        backups_(static_cast<int>(c.args.get<std::int64_t>("backup_count", 5))),
        logger_(c.logger) {
    if (path_.empty() || !path_.is_absolute()) {
      throw std::invalid_argument("filepath must be an absolute path (got '" + path_.string() + "')");
    }
    buffer_.reserve(write_buffer_size + 4096);
    // Opened now, while the process may still be root: a built-in honeypot
    // drops root once its ports are bound (the file stays writable through
    // this descriptor). A failure here is retried at the first write.
    open();
  }
  ~JsonFileIntegration() override {
    write_out();
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  JsonFileIntegration(const JsonFileIntegration&) = delete;
  JsonFileIntegration& operator=(const JsonFileIntegration&) = delete;

  SendResult send(std::span<const AlertRecordPtr> batch) override {
    std::size_t done = 0;
    for (const auto& r : batch) {
      if (buffer_.size() + r->json.size() + 1 > write_buffer_size && !write_out()) {
        return {done, error_};
      }
      if (max_bytes_ > 0 && !rotation_failed_ && size_ + buffer_.size() + r->json.size() + 1 > max_bytes_ &&
          size_ + buffer_.size() > 0) {
        if (!write_out() || !rotate()) {
          return {done, error_};
        }
      }
      buffer_ += r->json;
      buffer_.push_back('\n');
      ++done;
    }
    return {done, {}};
  }

  void flush() override { write_out(); }

  TestResult test_connection() override {
    if (!open()) {
      return {false, error_};
    }
    return {true, "can append to " + path_.string()};
  }

 private:
  bool open() {
    if (fd_ >= 0) {
      return true;
    }
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      error_ = "cannot open " + path_.string() + ": " + std::strerror(errno);
      return false;
    }
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    return true;
  }

  // Writes the buffer; on failure keeps what was not written for the retry.
  bool write_out() {
    if (buffer_.empty()) {
      return true;
    }
    if (!open()) {
      return false;
    }
    std::size_t off = 0;
    while (off < buffer_.size()) {
      const ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        error_ = "cannot write " + path_.string() + ": " + std::strerror(errno);
        buffer_.erase(0, off);
        size_ += off;
        ::close(fd_);
        fd_ = -1;
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    size_ += buffer_.size();
    buffer_.clear();
    return true;
  }

  // The live file is moved away while still open, and closed only once a
  // new one can take its place.
  bool rotate() {
    std::error_code ec;
    if (backups_ <= 0) {
      fs::remove(path_, ec);
    } else {
      fs::remove(path_.string() + "." + std::to_string(backups_), ec);
      for (int i = backups_ - 1; i >= 1; --i) {
        const fs::path from = path_.string() + "." + std::to_string(i);
        if (fs::exists(from, ec)) {
          fs::rename(from, path_.string() + "." + std::to_string(i + 1), ec);
        }
      }
      fs::rename(path_, path_.string() + ".1", ec);
    }
    if (ec) {
      // Write on into the same file rather than hold the alerts back: the
      // folder may not let this process rename (a honeypot that dropped
      // root and writes into a root-owned folder).
      rotation_failed_ = true;
      if (logger_) {
        logger_->error("cannot rotate {}: {}; writing on without rotation", path_.string(), ec.message());
      }
      return open();  // the descriptor is still open: nothing to reopen
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    size_ = 0;
    return open();
  }

  fs::path path_;
  std::uint64_t max_bytes_;
  int backups_;
  bool rotation_failed_ = false;  ///< once, for good: the file grows past max_size_mb
  std::shared_ptr<spdlog::logger> logger_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string buffer_;
  std::string error_;
};

}  // namespace
}  // namespace honeycomb::integrations

HONEYCOMB_INTEGRATION(honeycomb::integrations::JsonFileIntegration, "json_file")
