#include "honeypot/login_policy.hpp"

#include <gtest/gtest.h>

namespace honeycomb::honeypot {
namespace {

const auto kAttacker = source_key(boost::asio::ip::make_address("203.0.113.5"));
const auto kOther = source_key(boost::asio::ip::make_address("203.0.113.6"));

TEST(LoginPolicy, NeverAcceptsUnlessListed) {
  std::string error;
  auto policy = LoginPolicy::make(0, "admin:admin,pi:*", error);
  ASSERT_TRUE(policy) << error;
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(policy->attempt(kAttacker, "root", "123456"));
  }
  EXPECT_TRUE(policy->attempt(kAttacker, "admin", "admin"));
  EXPECT_FALSE(policy->attempt(kAttacker, "admin", "nope"));
  EXPECT_TRUE(policy->attempt(kAttacker, "pi", "anything"));
}

TEST(LoginPolicy, TheNthAttemptSucceedsAndKeepsWorking) {
  std::string error;
  auto policy = LoginPolicy::make(3, "", error);
  ASSERT_TRUE(policy) << error;
  EXPECT_FALSE(policy->attempt(kAttacker, "root", "a"));
  EXPECT_FALSE(policy->attempt(kAttacker, "root", "b"));
  EXPECT_FALSE(policy->attempt(kOther, "root", "x"));  // counted per address
  EXPECT_TRUE(policy->attempt(kAttacker, "root", "c"));
  EXPECT_TRUE(policy->attempt(kAttacker, "root", "c"));  // the same credentials again
  EXPECT_FALSE(policy->attempt(kAttacker, "root", "d"));
}

TEST(LoginPolicy, MalformedCredentialsAreNamed) {
  std::string error;
  EXPECT_FALSE(LoginPolicy::make(0, "admin", error));
  EXPECT_EQ(error, "'admin' is not user:password (use user:* for any password)");
  EXPECT_FALSE(LoginPolicy::make(-1, "", error));
}

}  // namespace
}  // namespace honeycomb::honeypot
