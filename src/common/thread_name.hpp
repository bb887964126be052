// Names the calling thread as `top -H`, perf and /proc/<pid>/task/*/comm
// show it (Linux keeps 15 characters), so that a profile or a benchmark's
// per-thread figures say which thread is which. The main thread keeps the
// executable's name: tools find the process by it.
#pragma once

#include <pthread.h>

namespace honeycomb {

inline void name_this_thread(const char* name) {
  ::pthread_setname_np(::pthread_self(), name);
}

}  // namespace honeycomb
