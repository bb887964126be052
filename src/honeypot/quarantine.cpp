#include "honeypot/quarantine.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::honeypot {

namespace fs = std::filesystem;

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
}

void Sha256::update(std::string_view bytes) {
  if (ctx_) {
    EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
  }
}

std::string Sha256::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (!ctx_ || EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) != 1) {
    return {};
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(digits[digest[i] >> 4]);
    out.push_back(digits[digest[i] & 0x0f]);
  }
  return out;
}

Quarantine::Quarantine(fs::path folder, std::uint64_t max_bytes) : folder_(std::move(folder)), max_bytes_(max_bytes) {}

Quarantine::Upload::Upload(Upload&& other) noexcept
    : hash_(std::move(other.hash_)), size_(other.size_), fd_(other.fd_), temp_(std::move(other.temp_)) {
  other.fd_ = -1;
}

Quarantine::Upload::~Upload() {
  if (fd_ >= 0) {
    ::close(fd_);
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void Quarantine::Upload::write(std::string_view bytes) {
  hash_.update(bytes);
  size_ += bytes.size();
  while (fd_ >= 0 && !bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::close(fd_);  // disk full or the like: hash on, keep nothing
      fd_ = -1;
      std::error_code ec;
      fs::remove(temp_, ec);
      break;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

Quarantine::Upload Quarantine::begin(std::string_view hint) {
  Upload upload;
  if (folder_.empty()) {
    return upload;
  }
  std::error_code ec;
  if (!scanned_) {
    scanned_ = true;
    fs::create_directories(folder_, ec);
    ::chmod(folder_.c_str(), 0700);
    for (const auto& entry : fs::directory_iterator(folder_, ec)) {
      if (entry.is_regular_file(ec)) {
        used_ += entry.file_size(ec);
      }
    }
  }
  if (used_ >= max_bytes_) {
    return upload;
  }
  upload.temp_ = folder_ / (".upload-" + std::string(hint) + "-" + std::to_string(++counter_));
  upload.fd_ = ::open(upload.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  return upload;
}

Quarantine::Stored Quarantine::finish(Upload& upload) {
  Stored stored;
  stored.sha256 = upload.hash_.hex();
  stored.size = upload.size_;
  if (upload.fd_ < 0) {
    stored.reason = folder_.empty() ? "no quarantine folder" : used_ >= max_bytes_ ? "quarantine full" : "cannot write";
    return stored;
  }
  ::close(upload.fd_);
  upload.fd_ = -1;
  std::error_code ec;
  const fs::path target = folder_ / stored.sha256;
  if (used_ + upload.size_ > max_bytes_) {
    fs::remove(upload.temp_, ec);
    stored.reason = "quarantine full";
    return stored;
  }
  if (fs::exists(target, ec)) {
    fs::remove(upload.temp_, ec);  // the same content is already kept
  } else {
    fs::rename(upload.temp_, target, ec);
    if (ec) {
      fs::remove(upload.temp_, ec);
      stored.reason = "cannot store: " + ec.message();
      return stored;
    }
    ::chmod(target.c_str(), 0400);
    used_ += upload.size_;
  }
  stored.path = target.string();
  return stored;
}

}  // namespace honeycomb::honeypot
