// The alert pipeline of one running service.
//
//   service thread(s) --submit()--> validate, stamp, render (on the caller)
//        --> OutputWorker[debug log]     (every alert, any policy)
//        --> OutputWorker[integration i] (filtered by policy, supported
//                                         event types and required fields)
//
// Each output has its own bounded queue and thread, so a slow or failing
// integration never delays the service or the other outputs; submit() never
// blocks (a full queue drops the alert and counts it).
#pragma once

#include "pipeline/alert_record.hpp"
#include "pipeline/integration.hpp"
#include "plugin/config.hpp"

#include <honeycomb/alert.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace honeycomb::pipeline {

/// Named bounds of the pipeline (see docs/LIMITS.md).
struct PipelineLimits {
  std::size_t queue_capacity = 65536;  ///< alerts waiting per output
  std::chrono::milliseconds first_retry_delay{250};
  std::chrono::milliseconds max_retry_delay{5000};
  std::chrono::milliseconds drain_timeout{5000};  ///< on stop
  /// How long a worker woken by a new alert waits for more before it
  /// delivers (unless `batch_size` alerts arrive first): under load one
  /// wakeup, one send() and one write then serve many alerts instead of one.
  /// Zero delivers at once.
  std::chrono::microseconds batch_delay{2000};
  std::size_t batch_size = 1024;  ///< alerts that end the wait early
};

/// Counters of one output. Monotonic; read at any time.
struct OutputCounters {
  std::atomic<std::uint64_t> queued{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> dropped_queue_full{0};
  std::atomic<std::uint64_t> failed{0};  ///< gave up after max_send_retries
};

/// One output with its queue and thread.
class OutputWorker {
 public:
  OutputWorker(std::string name, std::unique_ptr<Integration> output, int max_send_retries, PipelineLimits limits,
               std::shared_ptr<spdlog::logger> logger);
  ~OutputWorker();
  OutputWorker(const OutputWorker&) = delete;
  OutputWorker& operator=(const OutputWorker&) = delete;

  /// Enqueues without blocking; false when the queue is full (counted).
  bool push(const AlertRecordPtr& record);
  /// Delivers what is queued (up to the drain timeout) and joins the thread.
  void stop();
  /// Blocks until everything pushed so far was delivered or failed, or the
  /// deadline passes; true when drained.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const OutputCounters& counters() const { return counters_; }

 private:
  void run();
  void deliver(std::vector<AlertRecordPtr>& batch);

  std::string name_;
  std::unique_ptr<Integration> output_;
  int max_send_retries_;
  PipelineLimits limits_;
  std::shared_ptr<spdlog::logger> logger_;
  OutputCounters counters_;
  std::size_t batch_target_;  ///< queued alerts that end a linger

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::vector<AlertRecordPtr> queue_;
  bool waiting_ = false;    ///< the worker sleeps until notified
  bool lingering_ = false;  ///< the worker waits out batch_delay
  bool busy_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::thread thread_;
};

/// An integration as configured for a run: its spec and its worker.
struct OutputBinding {
  plugin::IntegrationSpec spec;
  std::unique_ptr<OutputWorker> worker;
};

struct PipelineCounters {
  std::uint64_t accepted = 0;
  std::uint64_t dropped_unknown_type = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t failed = 0;
  std::uint64_t delivered = 0;  ///< summed over integrations
};

class AlertPipeline {
 public:
  AlertPipeline(const plugin::ServiceSpec& service, PipelineLimits limits, std::shared_ptr<spdlog::logger> logger);
  ~AlertPipeline();
  AlertPipeline(const AlertPipeline&) = delete;
  AlertPipeline& operator=(const AlertPipeline&) = delete;

  /// Adds an integration output. Call before the service starts.
  void add_integration(plugin::IntegrationSpec spec, std::unique_ptr<Integration> integration);

  /// Validates, stamps and queues an alert. Thread-safe, never blocks.
  /// False when the alert was dropped (unknown event type); a full output
  /// queue drops the alert for that output only.
  bool submit(Alert alert);

  /// Waits until every output delivered what it was given, up to `deadline`.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  /// Drains and stops every output.
  void stop();

  [[nodiscard]] PipelineCounters counters() const;

 private:
  const plugin::ServiceSpec& service_;
  PipelineLimits limits_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unordered_map<std::string, const plugin::EventTypeSpec*> event_types_;
  std::unique_ptr<OutputWorker> debug_log_;
  std::vector<OutputBinding> integrations_;
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> dropped_unknown_{0};
  bool stopped_ = false;
};

}  // namespace honeycomb::pipeline
