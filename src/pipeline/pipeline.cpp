#include "pipeline/pipeline.hpp"

#include "common/log.hpp"

#include <algorithm>

namespace honeycomb::pipeline {
namespace {

// The debug log as an output: every alert becomes one record of
// honeycomb.debug.log with the alert's members as top-level keys.
class DebugLogOutput final : public Integration {
 public:
  explicit DebugLogOutput(std::string logger_name) : logger_name_(std::move(logger_name)) {}
  SendResult send(std::span<const AlertRecordPtr> batch) override {
    for (const auto& r : batch) {
      // r->json is `{...}`: splice its members after the standard keys.
      const std::string_view body = std::string_view(r->json).substr(1, r->json.size() - 2);
      // Reused: one allocation for the life of the output, not one per alert.
      message_.assign("alert: ");
      message_ += r->event_type;
      log::write_record(spdlog::level::info, logger_name_, message_, body);
    }
    return {batch.size(), {}};
  }
  void flush() override { log::flush(); }
  TestResult test_connection() override { return {true, "ok"}; }

 private:
  std::string logger_name_;
  std::string message_;
};

}  // namespace

OutputWorker::OutputWorker(std::string name, std::unique_ptr<Integration> output, int max_send_retries,
                           PipelineLimits limits, std::shared_ptr<spdlog::logger> logger)
    : name_(std::move(name)),
      output_(std::move(output)),
      max_send_retries_(max_send_retries),
      limits_(limits),
      logger_(std::move(logger)),
      // Half the capacity at most, so that lingering never fills the queue.
      batch_target_(std::max<std::size_t>(1, std::min(limits_.batch_size, limits_.queue_capacity / 2))) {
  // No reserve(): the queue grows to what the load needs and keeps that
  // capacity (it is swapped with the worker's batch, never freed), while an
  // idle honeypot holds no memory for it.
  thread_ = std::thread([this] { run(); });
}

OutputWorker::~OutputWorker() { stop(); }

bool OutputWorker::push(const AlertRecordPtr& record) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= limits_.queue_capacity) {
      counters_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(record);
    wake = waiting_;
    waiting_ = false;
    if (lingering_ && queue_.size() >= batch_target_) {
      wake = true;
      lingering_ = false;
    }
  }
  counters_.queued.fetch_add(1, std::memory_order_relaxed);
  // Only a sleeping worker needs the (syscall) notification.
  if (wake) {
    wake_.notify_one();
  }
  return true;
}

void OutputWorker::run() {
  std::vector<AlertRecordPtr> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      while (queue_.empty() && !stopping_) {
        busy_ = false;
        idle_.notify_all();
        waiting_ = true;
        wake_.wait(lock);
      }
      if (queue_.empty() && stopping_) {
        busy_ = false;
        idle_.notify_all();
        break;
      }
      busy_ = true;
      if (!stopping_ && limits_.batch_delay.count() > 0 && queue_.size() < batch_target_) {
        // Producers do not notify a lingering worker (unless the batch is
        // full), so this costs them nothing; a stop ends it at once.
        lingering_ = true;
        wake_.wait_for(lock, limits_.batch_delay,
                       [this] { return stopping_ || queue_.size() >= batch_target_; });
        lingering_ = false;
      }
      batch.swap(queue_);
    }
    deliver(batch);
    batch.clear();
    bool now_empty = false;
    {
      std::lock_guard lock(mutex_);
      now_empty = queue_.empty();
    }
    if (now_empty) {
      output_->flush();
    }
  }
  output_->flush();
}

void OutputWorker::deliver(std::vector<AlertRecordPtr>& batch) {
  std::size_t pos = 0;
  int attempt = 0;
  auto delay = limits_.first_retry_delay;
  while (pos < batch.size()) {
    SendResult r;
    try {
      r = output_->send(std::span<const AlertRecordPtr>(batch).subspan(pos));
    } catch (const std::exception& e) {
      r = {0, std::string("exception: ") + e.what()};
    }
    r.delivered = std::min(r.delivered, batch.size() - pos);
    pos += r.delivered;
    counters_.delivered.fetch_add(r.delivered, std::memory_order_relaxed);
    if (pos >= batch.size()) {
      break;
    }
    if (attempt >= max_send_retries_) {
      const auto lost = batch.size() - pos;
      counters_.failed.fetch_add(lost, std::memory_order_relaxed);
      logger_->error("integration {}: giving up on {} alert(s) after {} retries: {}", name_, lost, attempt, r.error);
      return;
    }
    ++attempt;
    logger_->warn("integration {}: send failed ({}), retry {}/{} in {} ms", name_, r.error, attempt,
                     max_send_retries_, delay.count());
    std::unique_lock lock(mutex_);
    // A stop cuts the wait short but we still try until the drain deadline.
    wake_.wait_for(lock, delay, [this] { return stopping_; });
    if (stopping_ && std::chrono::steady_clock::now() >= stop_deadline_) {
      const auto lost = batch.size() - pos;
      counters_.failed.fetch_add(lost, std::memory_order_relaxed);
      logger_->error("integration {}: {} alert(s) not delivered before shutdown: {}", name_, lost, r.error);
      return;
    }
    delay = std::min(delay * 2, limits_.max_retry_delay);
  }
}

bool OutputWorker::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return queue_.empty() && !busy_; });
}

void OutputWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) {
      return;
    }
    stopping_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + limits_.drain_timeout;
  }
  wake_.notify_all();
  thread_.join();
}

AlertPipeline::AlertPipeline(const plugin::ServiceSpec& service, PipelineLimits limits,
                             std::shared_ptr<spdlog::logger> logger)
    : service_(service), limits_(limits), logger_(std::move(logger)) {
  for (const auto& e : service_.event_types) {
    event_types_.emplace(e.name, &e);
  }
  debug_log_ = std::make_unique<OutputWorker>("debug-log", std::make_unique<DebugLogOutput>(logger_->name()), 0,
                                              limits_, logger_);
}

AlertPipeline::~AlertPipeline() { stop(); }

void AlertPipeline::add_integration(plugin::IntegrationSpec spec, std::unique_ptr<Integration> integration) {
  auto worker = std::make_unique<OutputWorker>(spec.name, std::move(integration), spec.max_send_retries, limits_,
                                               logger_);
  integrations_.push_back({std::move(spec), std::move(worker)});
}

bool AlertPipeline::submit(Alert alert) {
  auto it = event_types_.find(alert.event_type);
  if (it == event_types_.end()) {
    dropped_unknown_.fetch_add(1, std::memory_order_relaxed);
    static log::RateLimiter limiter(10);
    std::uint64_t suppressed = 0;
    if (limiter.allow(suppressed)) {
      logger_->error("alert dropped: unknown event_type '{}' (not in {}'s config.json event_types){}",
                     alert.event_type, service_.name,
                     suppressed > 0 ? " [" + std::to_string(suppressed) + " similar messages suppressed]" : "");
    }
    return false;
  }
  const plugin::EventTypeSpec& event = *it->second;
  AlertRecordPtr record = make_record(std::move(alert), event, service_.name);
  accepted_.fetch_add(1, std::memory_order_relaxed);
  debug_log_->push(record);
  if (event.policy == plugin::Policy::ignore) {
    return true;
  }
  for (auto& out : integrations_) {
    const auto& spec = out.spec;
    if (event.policy == plugin::Policy::mute && !spec.accepts_muted) {
      continue;
    }
    if (!spec.supported_event_types.empty() &&
        std::find(spec.supported_event_types.begin(), spec.supported_event_types.end(), record->event_type) ==
            spec.supported_event_types.end()) {
      continue;
    }
    if (!std::all_of(spec.required_fields.begin(), spec.required_fields.end(),
                     [&](const std::string& f) { return f == "event_type" || record->has_field(f); })) {
      continue;
    }
    if (!out.worker->push(record)) {
      static log::RateLimiter limiter(10);
      std::uint64_t suppressed = 0;
      if (limiter.allow(suppressed)) {
        logger_->warn("alert dropped for integration {}: its queue is full ({} alerts)", spec.name,
                         limits_.queue_capacity);
      }
    }
  }
  return true;
}

bool AlertPipeline::wait_idle(std::chrono::steady_clock::time_point deadline) {
  bool ok = debug_log_->wait_idle(deadline);
  for (auto& out : integrations_) {
    ok = out.worker->wait_idle(deadline) && ok;
  }
  return ok;
}

void AlertPipeline::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  for (auto& out : integrations_) {
    out.worker->stop();
  }
  debug_log_->stop();
}

PipelineCounters AlertPipeline::counters() const {
  PipelineCounters c;
  c.accepted = accepted_.load();
  c.dropped_unknown_type = dropped_unknown_.load();
  for (const auto& out : integrations_) {
    const auto& oc = out.worker->counters();
    c.dropped_queue_full += oc.dropped_queue_full.load();
    c.failed += oc.failed.load();
    c.delivered += oc.delivered.load();
  }
  return c;
}

}  // namespace honeycomb::pipeline
