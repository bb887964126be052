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

Quarantine::Quarantine(fs::path folder, std::uint64_t max_bytes) : folder_(std::move(folder)), max_bytes_(max_bytes) {
  if (folder_.empty()) {
    return;
  }
  std::error_code ec;
  fs::create_directories(folder_, ec);
  dir_fd_ = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    return;  // uploads are hashed; finish() says why none is kept
  }
  ::fchmod(dir_fd_, 0700);
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    if (entry.is_regular_file(ec)) {
      used_ += entry.file_size(ec);
    }
  }
}

Quarantine::~Quarantine() {
  if (dir_fd_ >= 0) {
    ::close(dir_fd_);
  }
}

void Quarantine::hand_to(uid_t uid, gid_t gid) {
  if (dir_fd_ >= 0) {
    [[maybe_unused]] const int rc = ::fchown(dir_fd_, uid, gid);
  }
}

Quarantine::Upload::Upload(Upload&& other) noexcept
    : hash_(std::move(other.hash_)),
      size_(other.size_),
      fd_(other.fd_),
      dir_fd_(other.dir_fd_),
      temp_(std::move(other.temp_)) {
  other.fd_ = -1;
}

Quarantine::Upload::~Upload() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlinkat(dir_fd_, temp_.c_str(), 0);
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
      ::unlinkat(dir_fd_, temp_.c_str(), 0);
      break;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

Quarantine::Upload Quarantine::begin(std::string_view hint) {
  Upload upload;
  if (dir_fd_ < 0 || used_ >= max_bytes_) {
    return upload;
  }
  upload.dir_fd_ = dir_fd_;
  upload.temp_ = ".upload-" + std::string(hint) + "-" + std::to_string(++counter_);
  upload.fd_ = ::openat(dir_fd_, upload.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
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
  if (used_ + upload.size_ > max_bytes_) {
    ::unlinkat(dir_fd_, upload.temp_.c_str(), 0);
    stored.reason = "quarantine full";
    return stored;
  }
  struct stat existing {};
  if (::fstatat(dir_fd_, stored.sha256.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    ::unlinkat(dir_fd_, upload.temp_.c_str(), 0);  // the same content is already kept
  } else {
    if (::renameat(dir_fd_, upload.temp_.c_str(), dir_fd_, stored.sha256.c_str()) != 0) {
      stored.reason = std::string("cannot store: ") + std::strerror(errno);
      ::unlinkat(dir_fd_, upload.temp_.c_str(), 0);
      return stored;
    }
    ::fchmodat(dir_fd_, stored.sha256.c_str(), 0400, 0);
    used_ += upload.size_;
  }
  stored.path = (folder_ / stored.sha256).string();
  return stored;
}

}  // namespace honeycomb::honeypot
