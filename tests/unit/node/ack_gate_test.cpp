#include "node/ack_gate.hpp"

#include "spool/spool.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace honeycomb::node {
namespace {

struct SpoolDir {
  SpoolDir() {
    path = std::filesystem::temp_directory_path() /
           ("hc-ack-gate-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(path);
  }
  ~SpoolDir() { std::filesystem::remove_all(path); }
  std::unique_ptr<spool::Spool> open() const {
    spool::SpoolOptions options;
    options.dir = path;
    options.fsync = spool::FsyncPolicy::never;
    std::string error;
    auto s = spool::Spool::open(options, error);
    EXPECT_TRUE(s) << error;
    return s;
  }
  std::filesystem::path path;
  static inline int counter = 0;
};

void append(spool::Spool& spool, int n) {
  std::vector<spool::Entry> entries(static_cast<std::size_t>(n), spool::Entry{1, {}, R"({"a":1})"});
  spool.append(entries);
}

TEST(AckGate, TheSpoolIsAcknowledgedUpToTheSlowestConsumer) {
  SpoolDir dir;
  auto spool = dir.open();
  append(*spool, 10);
  AckGate gate(*spool, true, true);
  gate.core_confirmed(10);
  EXPECT_EQ(gate.core_position(), 10U);
  EXPECT_EQ(spool->acked_seq(), 0U);  // the outputs have delivered nothing yet
  gate.outputs_delivered(4);
  EXPECT_EQ(spool->acked_seq(), 4U);
  gate.outputs_delivered(10);
  EXPECT_EQ(spool->acked_seq(), 10U);
  gate.core_confirmed(7);  // lower than before: changes nothing
  EXPECT_EQ(gate.core_position(), 10U);
  EXPECT_EQ(spool->acked_seq(), 10U);
}

TEST(AckGate, OneConsumerAloneReleasesTheSpool) {
  SpoolDir dir;
  auto spool = dir.open();
  append(*spool, 5);
  {
    AckGate core_only(*spool, true, false);
    core_only.outputs_delivered(5);  // no outputs on this node: ignored
    EXPECT_EQ(spool->acked_seq(), 0U);
    core_only.core_confirmed(2);
    EXPECT_EQ(spool->acked_seq(), 2U);
  }
  AckGate outputs_only(*spool, false, true);
  EXPECT_EQ(outputs_only.core_position(), 2U);  // starts where the spool is
  outputs_only.outputs_delivered(5);
  EXPECT_EQ(spool->acked_seq(), 5U);
}

TEST(AckGate, TheCoreResumesFromTheSpoolAfterARestart) {
  SpoolDir dir;
  {
    auto spool = dir.open();
    append(*spool, 6);
    AckGate gate(*spool, true, true);
    gate.core_confirmed(6);
    gate.outputs_delivered(3);
  }
  auto spool = dir.open();
  AckGate gate(*spool, true, true);
  // Only what every consumer was done with was released; the core gets
  // 4..6 again (it stores a resent event once).
  EXPECT_EQ(gate.core_position(), 3U);
}

}  // namespace
}  // namespace honeycomb::node
