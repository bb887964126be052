// A growing file of which the OS page cache keeps only the newest part.
//
// Why: the SQLite store grows at its end, and every page the checkpointer
// appends to the database file takes a page of memory the kernel has to
// find. On a virtual machine whose balloon device reports free pages to the
// host (virtio-balloon free page reporting, as on this project's machines),
// a page the guest has not used for a few seconds belongs to the host
// again, and writing into it costs a host fault: ~20x writing over a cached
// page (docs/BENCHMARKS.md, "the VM's page cost"). Under sustained ingest
// that was most of the checkpointer's time. Dropping the file's pages from
// the cache once the file has grown well past them (posix_fadvise
// DONTNEED) frees them while they are still the guest's, and the kernel
// hands them out again for the next pages written.
//
// Each part of the file is dropped once, when the file has grown `window`
// bytes past it: what a reader brings back into the cache afterwards stays
// there, the newest `window` bytes (the newest events, what dashboards and
// queries read most) are left alone, and so is what the file held when the
// window was opened. By the time a page is `window` behind the end it has
// long been written back (a checkpoint syncs the file), so it is clean and
// DONTNEED can drop it.
#pragma once

#include <cstdint>
#include <string>

namespace honeycomb::store {

class PageCacheWindow {
 public:
  /// Watches the file at `path`; `window_bytes` <= 0, or a file that
  /// cannot be opened: trim() does nothing.
  PageCacheWindow(const std::string& path, std::int64_t window_bytes);
  ~PageCacheWindow();
  PageCacheWindow(const PageCacheWindow&) = delete;
  PageCacheWindow& operator=(const PageCacheWindow&) = delete;

  /// Drops from the page cache the part of the file that is now more than
  /// the window behind its end and was not dropped before; returns its
  /// size in bytes (0 when the file has not grown a step past the last
  /// trim). One thread at a time.
  std::int64_t trim();

  bool active() const { return fd_ >= 0; }

  /// trim() waits for the file to grow this much past the last trim (one
  /// system call per step, not per checkpoint).
  static constexpr std::int64_t kStepBytes = std::int64_t{1} << 20;

 private:
  int fd_ = -1;
  std::int64_t window_ = 0;
  std::int64_t dropped_below_ = 0;  ///< what lies below was dropped (or was there at open)
};

}  // namespace honeycomb::store
