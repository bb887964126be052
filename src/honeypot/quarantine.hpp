// Where the honeypots keep what attackers upload: every upload is hashed
// (SHA-256, the name malware databases index by) and, while the folder is
// under its size cap, stored as <sha256> with mode 0400 -- never executable,
// never run, one copy per content.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <openssl/evp.h>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace honeycomb::honeypot {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  /// Lower-case hex digest; the object is spent afterwards.
  std::string hex();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

class Quarantine {
 public:
  /// `folder` empty: uploads are hashed, not stored. The folder is created
  /// (mode 0700) and opened now, and the size of what it already holds
  /// counts. Everything later goes through that open folder, so that it
  /// keeps working after the process dropped root (see privileges.hpp),
  /// whatever the permissions of the folders above it.
  Quarantine(std::filesystem::path folder, std::uint64_t max_bytes);
  ~Quarantine();
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;

  /// Gives the folder to the account the process is about to become.
  void hand_to(uid_t uid, gid_t gid);

  /// One upload being received.
  class Upload {
   public:
    Upload() = default;
    Upload(Upload&& other) noexcept;
    Upload& operator=(Upload&&) = delete;
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;
    /// An upload never finished (the connection dropped) leaves nothing.
    ~Upload();
    void write(std::string_view bytes);
    [[nodiscard]] std::uint64_t size() const { return size_; }

   private:
    friend class Quarantine;
    Sha256 hash_;
    std::uint64_t size_ = 0;
    int fd_ = -1;
    int dir_fd_ = -1;   ///< the quarantine's, not owned
    std::string temp_;  ///< name in the folder
  };

  struct Stored {
    std::string sha256;
    std::uint64_t size = 0;
    std::string path;    ///< where the content is kept; empty when not stored
    std::string reason;  ///< why not stored ("no quarantine folder", "quarantine full", an I/O error)
  };

  /// Starts an upload; `hint` names the temporary file (a session id).
  Upload begin(std::string_view hint);
  /// Ends it: hashed, and moved to <folder>/<sha256> when it fits.
  Stored finish(Upload& upload);

 private:
  std::filesystem::path folder_;
  int dir_fd_ = -1;
  std::uint64_t max_bytes_;
  std::uint64_t used_ = 0;
  std::uint64_t counter_ = 0;
};

}  // namespace honeycomb::honeypot
