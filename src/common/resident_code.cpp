#include "common/resident_code.hpp"

#include "common/proc_status.hpp"

#include <cerrno>
#include <cstring>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

namespace honeycomb::resident_code {

namespace {

struct Ranges {
  std::uintptr_t page = 4096;
  std::size_t bytes = 0;
  int error = 0;
};

int release_main_program(dl_phdr_info* info, std::size_t /*size*/, void* data) {
  auto& out = *static_cast<Ranges*>(data);
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) != 0 || ph.p_memsz == 0) {
      continue;
    }
    // Whole pages inside the segment only: a page shared with a writable
    // neighbour (not in our -z separate-code layout, but possible) is kept.
    const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    const std::uintptr_t end = begin + ph.p_memsz;
    const std::uintptr_t first = (begin + out.page - 1) & ~(out.page - 1);
    const std::uintptr_t last = end & ~(out.page - 1);
    if (last <= first) {
      continue;
    }
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the loader gives addresses as integers
    if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) {
      out.error = errno;
      return 1;
    }
    out.bytes += last - first;
  }
  return 1;  // the first object is the main program: stop there
}

/// A debugger's breakpoints are written into private copies of code pages,
/// which MADV_DONTNEED would silently drop.
bool traced() {
  const auto tracer = self_status_field("TracerPid");
  return tracer && *tracer != "0";
}

}  // namespace

Released release_startup_code() {
  if (traced()) {
    return {0, "a debugger is attached"};
  }
  Ranges ranges;
  if (const long page = ::sysconf(_SC_PAGESIZE); page > 0) {
    ranges.page = static_cast<std::uintptr_t>(page);
  }
  ::dl_iterate_phdr(release_main_program, &ranges);
  Released result;
  result.bytes = ranges.bytes;
  if (ranges.error != 0) {
    result.error = std::strerror(ranges.error);
  }
  return result;
}

bool ReleasePolicy::due(std::uint64_t phase, std::chrono::steady_clock::time_point now) {
  if (phase != phase_) {
    phase_ = phase;
    changed_at_ = now;
    released_ = false;
  }
  if (released_ || now - changed_at_ < settle_) {
    return false;
  }
  released_ = true;
  return true;
}

}  // namespace honeycomb::resident_code
