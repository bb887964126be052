// The queue between append() and the writers: with several writers, the
// commit callbacks run in the order the work was taken, whoever finishes
// first, and flush() waits for all of it.
#include "store/ingest_queue.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace honeycomb::store {
namespace {

std::vector<events::Event> events_of(int n) {
  std::vector<events::Event> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(i)].event_id = "ev-" + std::to_string(i);
  }
  return v;
}

TEST(IngestQueueTest, CallbacksRunInTheOrderTakenWhoeverFinishesFirst) {
  IngestQueue queue(1000);
  std::vector<std::string> reported;
  for (const char* name : {"first", "second", "third"}) {
    auto batch = events_of(3);
    ASSERT_TRUE(queue.append(
        batch, [&reported, name](bool ok) { reported.push_back(std::string(name) + (ok ? ":ok" : ":failed")); }));
  }
  // Three writers each take one batch, in order.
  WriterWork first, second, third;
  const auto now = std::chrono::steady_clock::now();
  ASSERT_TRUE(queue.take(first, 3, now));
  ASSERT_TRUE(queue.take(second, 3, now));
  ASSERT_TRUE(queue.take(third, 3, now));
  ASSERT_EQ(first.events + second.events + third.events, 9u);

  // The third and the second commit before the first fails: nothing may be
  // reported until the first is, and then in order.
  queue.finish(third, true, 3);
  queue.finish(second, true, 3);
  EXPECT_TRUE(reported.empty());
  EXPECT_EQ(queue.counters().queued, 9u) << "not finished until reported";
  bool flushed = false;
  std::thread flusher([&] {
    queue.flush();
    flushed = true;
  });
  queue.finish(first, false, 0);
  flusher.join();
  EXPECT_TRUE(flushed);
  EXPECT_EQ(reported, (std::vector<std::string>{"first:failed", "second:ok", "third:ok"}));
  const auto c = queue.counters();
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.stored, 6u);
  EXPECT_EQ(c.failed, 3u);
}

}  // namespace
}  // namespace honeycomb::store
