// self_status_field (common/proc_status.hpp): one field of /proc/self/status.
#include "common/proc_status.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unistd.h>

namespace honeycomb {
namespace {

TEST(ProcStatus, ReadsOneFieldTrimmed) {
  EXPECT_EQ(self_status_field("Pid"), std::to_string(::getpid()));
  // A field name is matched whole: "Vm" is not "VmRSS".
  EXPECT_EQ(self_status_field("Vm"), std::nullopt);
  EXPECT_EQ(self_status_field("NoSuchField"), std::nullopt);
}

}  // namespace
}  // namespace honeycomb
