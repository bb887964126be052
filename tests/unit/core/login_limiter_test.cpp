#include "core/api/login_limiter.hpp"

#include <gtest/gtest.h>

namespace honeycomb::core::api {
namespace {

using Clock = LoginLimiter::Clock;

TEST(LoginLimiter, BlocksAnAddressAfterItsFailuresUntilTheWindowEnds) {
  LoginLimiter limiter(3, std::chrono::seconds(60));
  const auto t0 = Clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(limiter.blocked_for("10.0.0.1", t0), 0u);
  EXPECT_FALSE(limiter.failed("10.0.0.1", t0));
  EXPECT_FALSE(limiter.failed("10.0.0.1", t0 + std::chrono::seconds(1)));
  EXPECT_EQ(limiter.blocked_for("10.0.0.1", t0 + std::chrono::seconds(1)), 0u);
  EXPECT_TRUE(limiter.failed("10.0.0.1", t0 + std::chrono::seconds(2)));  // the one that reaches the limit
  EXPECT_EQ(limiter.blocked_for("10.0.0.1", t0 + std::chrono::seconds(10)), 50u);
  EXPECT_EQ(limiter.blocked_for("10.0.0.2", t0 + std::chrono::seconds(10)), 0u);  // others are not affected
  EXPECT_EQ(limiter.blocked_for("10.0.0.1", t0 + std::chrono::seconds(60)), 0u);  // a new window
  EXPECT_FALSE(limiter.failed("10.0.0.1", t0 + std::chrono::seconds(61)));        // counts from one again
  EXPECT_EQ(limiter.blocked_for("10.0.0.1", t0 + std::chrono::seconds(62)), 0u);
}

TEST(LoginLimiter, ManyAddressesDoNotGrowItWithoutBound) {
  LoginLimiter limiter(2, std::chrono::seconds(60), 100);
  const auto t0 = Clock::time_point{} + std::chrono::hours(1);
  limiter.failed("victim", t0);
  limiter.failed("victim", t0);
  EXPECT_GT(limiter.blocked_for("victim", t0), 0u);
  for (int i = 0; i < 1000; ++i) {
    limiter.failed("spray-" + std::to_string(i), t0);
  }
  // The map was cleared on the way (bounded); nothing broke.
  EXPECT_EQ(limiter.blocked_for("spray-999", t0), 0u);
}

}  // namespace
}  // namespace honeycomb::core::api
