// See page_cache_window.hpp.
#include "store/page_cache_window.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::store {

PageCacheWindow::PageCacheWindow(const std::string& path, std::int64_t window_bytes) : window_(window_bytes) {
  if (window_ <= 0) {
    return;
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd_ >= 0 && ::fstat(fd_, &st) == 0) {
    dropped_below_ = st.st_size;  // what the file held before is left to the kernel
  }
}

PageCacheWindow::~PageCacheWindow() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::int64_t PageCacheWindow::trim() {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    return 0;
  }
  if (st.st_size < dropped_below_) {  // the file was cut (a VACUUM): start again from its end
    dropped_below_ = st.st_size;
    return 0;
  }
  const std::int64_t until = st.st_size - window_;
  if (until - dropped_below_ < kStepBytes) {
    return 0;
  }
  const std::int64_t from = dropped_below_;
  dropped_below_ = until;
  return ::posix_fadvise(fd_, from, until - from, POSIX_FADV_DONTNEED) == 0 ? until - from : 0;
}

}  // namespace honeycomb::store
