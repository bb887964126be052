// The alert pipeline: validation, stamping, policies, filters, fan-out,
// retries, and isolation of a slow integration.
#include "pipeline/pipeline.hpp"

#include "common/log.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace honeycomb::pipeline {
namespace {

using namespace std::chrono_literals;

plugin::ServiceSpec service_spec() {
  plugin::ServiceSpec s;
  s.name = "svc";
  s.event_types = {
      {"hit", "A hit", {"originating_ip"}, plugin::Policy::alert},
      {"quiet", "Muted", {}, plugin::Policy::mute},
      {"noise", "Ignored", {}, plugin::Policy::ignore},
      {"other", "Other", {}, plugin::Policy::alert},
  };
  return s;
}

// Records what it receives; can be told to fail or to block.
class Recorder final : public Integration {
 public:
  struct State {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> received;  // event types
    std::vector<std::string> json;
    int failures_left = 0;
    bool blocked = false;
    int calls = 0;
  };
  explicit Recorder(std::shared_ptr<State> state) : state_(std::move(state)) {}
  SendResult send(std::span<const AlertRecordPtr> batch) override {
    std::unique_lock lock(state_->mutex);
    state_->changed.wait(lock, [&] { return !state_->blocked; });
    ++state_->calls;
    if (state_->failures_left > 0) {
      --state_->failures_left;
      return {0, "injected failure"};
    }
    for (const auto& r : batch) {
      state_->received.push_back(r->event_type);
      state_->json.push_back(r->json);
    }
    state_->changed.notify_all();
    return {batch.size(), {}};
  }
  TestResult test_connection() override { return {true, "ok"}; }

 private:
  std::shared_ptr<State> state_;
};

plugin::IntegrationSpec integration_spec(std::string name) {
  plugin::IntegrationSpec s;
  s.name = std::move(name);
  return s;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override { log::init({{}, false, false}); }
  PipelineLimits fast_limits() {
    PipelineLimits l;
    l.first_retry_delay = 1ms;
    l.max_retry_delay = 2ms;
    return l;
  }
  plugin::ServiceSpec spec_ = service_spec();
};

TEST_F(PipelineTest, StampsAndDelivers) {
  auto state = std::make_shared<Recorder::State>();
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  p.add_integration(integration_spec("rec"), std::make_unique<Recorder>(state));
  ASSERT_TRUE(p.submit(Alert("hit").set("originating_ip", "10.0.0.1").set("originating_port", 4444)));
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 10s));
  ASSERT_EQ(state->json.size(), 1U);
  auto v = boost::json::parse(state->json[0]).as_object();
  EXPECT_EQ(v["event_type"].as_string(), "hit");
  EXPECT_EQ(v["event_description"].as_string(), "A hit");
  EXPECT_EQ(v["status"].as_string(), "Alert");
  EXPECT_EQ(v["originating_ip"].as_string(), "10.0.0.1");
  EXPECT_EQ(v["originating_port"].as_int64(), 4444);
  EXPECT_EQ(v["id"].as_string().size(), 36U);
  EXPECT_EQ(v["timestamp"].as_string().back(), 'Z');
}

TEST_F(PipelineTest, UnknownEventTypeDroppedAndCounted) {
  auto state = std::make_shared<Recorder::State>();
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  p.add_integration(integration_spec("rec"), std::make_unique<Recorder>(state));
  EXPECT_FALSE(p.submit(Alert("nope")));
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 10s));
  EXPECT_TRUE(state->received.empty());
  EXPECT_EQ(p.counters().dropped_unknown_type, 1U);
  EXPECT_EQ(p.counters().accepted, 0U);
}

TEST_F(PipelineTest, PoliciesAndFilters) {
  auto all = std::make_shared<Recorder::State>();
  auto muted_ok = std::make_shared<Recorder::State>();
  auto only_other = std::make_shared<Recorder::State>();
  auto needs_ip = std::make_shared<Recorder::State>();
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  p.add_integration(integration_spec("all"), std::make_unique<Recorder>(all));
  auto m = integration_spec("muted");
  m.accepts_muted = true;
  p.add_integration(m, std::make_unique<Recorder>(muted_ok));
  auto o = integration_spec("other");
  o.supported_event_types = {"other"};
  p.add_integration(o, std::make_unique<Recorder>(only_other));
  auto n = integration_spec("ip");
  n.required_fields = {"originating_ip"};
  p.add_integration(n, std::make_unique<Recorder>(needs_ip));

  p.submit(Alert("hit").set("originating_ip", "1.2.3.4"));
  p.submit(Alert("hit"));
  p.submit(Alert("quiet"));
  p.submit(Alert("noise"));
  p.submit(Alert("other"));
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 10s));
  EXPECT_EQ(all->received, (std::vector<std::string>{"hit", "hit", "other"}));
  EXPECT_EQ(muted_ok->received, (std::vector<std::string>{"hit", "hit", "quiet", "other"}));
  EXPECT_EQ(only_other->received, (std::vector<std::string>{"other"}));
  EXPECT_EQ(needs_ip->received, (std::vector<std::string>{"hit"}));
  EXPECT_EQ(p.counters().accepted, 5U);
}

TEST_F(PipelineTest, RetriesThenSucceeds) {
  auto state = std::make_shared<Recorder::State>();
  state->failures_left = 2;
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  auto s = integration_spec("rec");
  s.max_send_retries = 3;
  p.add_integration(s, std::make_unique<Recorder>(state));
  p.submit(Alert("hit"));
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 10s));
  EXPECT_EQ(state->received.size(), 1U);
  EXPECT_EQ(state->calls, 3);
  EXPECT_EQ(p.counters().failed, 0U);
}

TEST_F(PipelineTest, GivesUpAfterMaxRetries) {
  auto state = std::make_shared<Recorder::State>();
  state->failures_left = 100;
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  auto s = integration_spec("rec");
  s.max_send_retries = 2;
  p.add_integration(s, std::make_unique<Recorder>(state));
  p.submit(Alert("hit"));
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 10s));
  EXPECT_EQ(state->calls, 3);  // the first try and two retries
  EXPECT_EQ(p.counters().failed, 1U);
}

// Unblocks a Recorder when it goes out of scope, so a failed assertion
// cannot leave a worker blocked forever.
struct Unblock {
  std::shared_ptr<Recorder::State> state;
  ~Unblock() {
    {
      std::lock_guard lock(state->mutex);
      state->blocked = false;
    }
    state->changed.notify_all();
  }
};

TEST_F(PipelineTest, BlockedIntegrationDoesNotDelayOthers) {
  auto slow = std::make_shared<Recorder::State>();
  auto fast = std::make_shared<Recorder::State>();
  slow->blocked = true;
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  Unblock unblock{slow};  // destroyed before p, whose destructor joins the worker
  p.add_integration(integration_spec("slow"), std::make_unique<Recorder>(slow));
  p.add_integration(integration_spec("fast"), std::make_unique<Recorder>(fast));
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(p.submit(Alert("other")));
  }
  {
    std::unique_lock lock(fast->mutex);
    ASSERT_TRUE(fast->changed.wait_for(lock, 10s, [&] { return fast->received.size() == 500; }))
        << fast->received.size();
  }
  std::unique_lock slow_lock(slow->mutex);
  EXPECT_TRUE(slow->received.empty());
  slow_lock.unlock();
}

TEST_F(PipelineTest, FullQueueDropsAndCountsWithoutBlocking) {
  auto slow = std::make_shared<Recorder::State>();
  slow->blocked = true;
  auto limits = fast_limits();
  limits.queue_capacity = 10;
  AlertPipeline p(spec_, limits, log::get("test"));
  p.add_integration(integration_spec("slow"), std::make_unique<Recorder>(slow));
  {
    Unblock unblock{slow};
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(p.submit(Alert("other")));  // returns at once even though the output is stuck
    }
    // At most one batch in flight (up to the capacity) plus a full queue.
    EXPECT_GE(p.counters().dropped_queue_full, 100U - 2 * limits.queue_capacity);
  }
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 10s));
  std::lock_guard lock(slow->mutex);
  EXPECT_EQ(slow->received.size() + p.counters().dropped_queue_full, 100U);
}

TEST_F(PipelineTest, ConcurrentSubmittersLoseNothingBelowTheBound) {
  auto state = std::make_shared<Recorder::State>();
  AlertPipeline p(spec_, fast_limits(), log::get("test"));
  p.add_integration(integration_spec("rec"), std::make_unique<Recorder>(state));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        p.submit(Alert("other"));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_TRUE(p.wait_idle(std::chrono::steady_clock::now() + 30s));
  EXPECT_EQ(state->received.size(), 20000U);
  EXPECT_EQ(p.counters().dropped_queue_full, 0U);
}

}  // namespace
}  // namespace honeycomb::pipeline
