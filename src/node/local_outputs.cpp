#include "node/local_outputs.hpp"

#include "common/json_text.hpp"
#include "common/log.hpp"
#include "events/normalize.hpp"
#include "host/home.hpp"
#include "host/runner.hpp"
#include "node/ack_gate.hpp"
#include "node/pot_event.hpp"
#include "spool/spool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace honeycomb::node {

namespace {

constexpr std::size_t kBatchEvents = 512;
constexpr std::size_t kBatchBytes = std::size_t{1} << 20;
constexpr auto kIdlePoll = std::chrono::milliseconds(250);
constexpr auto kRetryMin = std::chrono::milliseconds(200);
constexpr auto kRetryMax = std::chrono::milliseconds(10'000);

/// One spooled event as an alert record: what integrations take. `json` is
/// the event as the core would show it, the honeypot's record as `data`.
pipeline::AlertRecordPtr to_record(std::uint64_t node_id, const spool::Record& r) {
  const auto spooled = read_spooled(r.received_us, r.origin, r.line);
  const auto& e = spooled.event;
  auto record = std::make_shared<pipeline::AlertRecord>();
  record->id = fmt::format("{}-{}", node_id, r.seq);
  record->timestamp = events::format_time_us(e.event_us);
  record->service = e.pot_type.empty() ? "honeybee" : e.pot_type;
  record->event_type = e.event_type;
  record->event_description = e.event_type;
  auto add = [&record](const char* name, const std::string& value) {
    if (!value.empty()) {
      record->fields.emplace_back(name, Value{value});
    }
  };
  auto add_port = [&record](const char* name, std::int32_t port) {
    if (port > 0) {
      record->fields.emplace_back(name, Value{std::int64_t{port}});
    }
  };
  record->fields.emplace_back("node_id", Value{std::to_string(node_id)});
  add("pot_id", e.pot_id);
  add("pot_type", e.pot_type);
  add("src_ip", e.src_ip);
  add_port("src_port", e.src_port);
  add("dst_ip", e.dst_ip);
  add_port("dst_port", e.dst_port);
  add("username", e.username);
  add("password", e.password);
  add("command", e.command);
  add("session", e.session);
  add("url", e.url);
  add("message", e.message);

  std::string& json = record->json;
  json.reserve(spooled.line.size() + 256);
  json += fmt::format(R"({{"event_id":"{}-{}","timestamp":)", node_id, r.seq);
  json_text::append_string(json, record->timestamp);
  json += R"(,"received":)";
  json_text::append_string(json, events::format_time_us(r.received_us));
  json += fmt::format(R"(,"node_id":{},"pot_id":)", node_id);
  json_text::append_string(json, e.pot_id);
  json += R"(,"pot_type":)";
  json_text::append_string(json, e.pot_type);
  json += R"(,"event_type":)";
  json_text::append_string(json, e.event_type);
  json += R"(,"data":)";
  if (spooled.parsed) {
    json += spooled.line;  // a validated JSON object
  } else {
    json += R"({"line":)";
    json_text::append_string(json, spooled.line);
    json += '}';
  }
  json += '}';
  return record;
}

std::uint64_t read_position(const std::filesystem::path& file, std::uint64_t fallback) {
  const auto text = host::read_text_file(file);
  if (!text) {
    return fallback;
  }
  std::uint64_t value = 0;
  const auto* end = text->data() + text->size();
  const auto [p, ec] = std::from_chars(text->data(), end, value);
  return ec == std::errc{} ? value : fallback;
}

}  // namespace

struct LocalOutputs::Impl {
  Impl(const NodeConfig& c, std::uint64_t id, spool::Spool& s, AckGate& g)
      : config(c), node_id(id), spool(s), gate(g) {}

  struct Output {
    std::string name;
    host::LoadedIntegration loaded;
    std::uint64_t failures = 0;
  };

  const NodeConfig& config;
  std::uint64_t node_id;
  spool::Spool& spool;
  AckGate& gate;
  std::vector<Output> outputs;
  std::shared_ptr<spdlog::logger> log = log::get("node.outputs");
  log::RateLimiter failure_log{1};

  std::thread thread;
  std::mutex mutex;
  std::condition_variable wake;
  bool woken = false;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> position{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> failures{0};

  /// Waits for new events, a stop, or `timeout`.
  void wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, timeout, [this] { return woken || stopping.load(); });
    woken = false;
  }

  /// Delivers `batch` to `output`, retrying with backoff; false when the
  /// node stops first.
  bool deliver(Output& output, std::span<const pipeline::AlertRecordPtr> batch) {
    auto backoff = kRetryMin;
    std::size_t done = 0;
    while (done < batch.size()) {
      pipeline::SendResult result;
      try {
        result = output.loaded.instance->send(batch.subspan(done));
      } catch (const std::exception& e) {
        result.error = e.what();
      }
      done += std::min(result.delivered, batch.size() - done);
      if (done == batch.size()) {
        // Written out now, not when the spool runs dry: another output may
        // hold the loop up for a long time.
        output.loaded.instance->flush();
        return true;
      }
      ++output.failures;
      failures.fetch_add(1, std::memory_order_relaxed);
      std::uint64_t suppressed = 0;
      if (failure_log.allow(suppressed)) {
        log->warn("output {} failed ({}); {} events wait in the spool, retrying in {} ms{}", output.name,
                  result.error.empty() ? "no reason given" : result.error, batch.size() - done, backoff.count(),
                  suppressed ? fmt::format(" ({} more failures not logged)", suppressed) : std::string());
      }
      wait(backoff);
      if (stopping) {
        return false;
      }
      backoff = std::min(backoff * 2, kRetryMax);
    }
    return true;
  }

  void run() {
    auto reader = spool.reader(position.load() + 1);
    while (!stopping) {
      auto records = reader.read(kBatchEvents, kBatchBytes);
      if (records.empty()) {
        wait(kIdlePoll);
        continue;
      }
      std::vector<pipeline::AlertRecordPtr> batch;
      batch.reserve(records.size());
      for (const auto& r : records) {
        batch.push_back(to_record(node_id, r));
      }
      for (auto& output : outputs) {
        if (!deliver(output, batch)) {
          return;  // stopping: this batch is delivered again next time
        }
      }
      const auto last = records.back().seq;
      position.store(last);
      delivered.fetch_add(batch.size(), std::memory_order_relaxed);
      std::string error;
      host::write_text_file(config.outputs_position_file(), std::to_string(last) + "\n", error);
      gate.outputs_delivered(last);
    }
  }
};

std::variant<std::unique_ptr<LocalOutputs>, std::string> LocalOutputs::create(const NodeConfig& config,
                                                                              std::uint64_t node_id,
                                                                              spool::Spool& spool, AckGate& gate) {
  auto impl = std::make_unique<Impl>(config, node_id, spool, gate);
  const host::Home home{config.data_dir, host::default_library()};
  for (const auto& output : config.outputs) {
    // Built-in and library integrations by name; a folder path works too.
    const bool is_folder = output.integration.find('/') != std::string::npos;
    const auto folder = is_folder ? output.integration : (home.integrations().in_library(output.integration)).string();
    auto loaded = host::load_integration(home, folder, true, &output.args);
    if (auto* error = std::get_if<std::string>(&loaded)) {
      return fmt::format("output {}: {}", output.integration, *error);
    }
    impl->outputs.push_back(Impl::Output{output.integration, std::move(std::get<host::LoadedIntegration>(loaded))});
  }
  impl->position = read_position(config.outputs_position_file(), spool.acked_seq());
  gate.outputs_delivered(impl->position.load());
  return std::unique_ptr<LocalOutputs>(new LocalOutputs(std::move(impl)));
}

LocalOutputs::LocalOutputs(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LocalOutputs::~LocalOutputs() {
  stop();
}

std::uint64_t LocalOutputs::position() const {
  return impl_->position.load();
}

void LocalOutputs::start() {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void LocalOutputs::wake() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->woken = true;
  }
  impl_->wake.notify_one();
}

void LocalOutputs::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

std::string LocalOutputs::stats_json() const {
  return fmt::format(R"({{"outputs":{},"position":{},"delivered":{},"failures":{}}})", impl_->outputs.size(),
                     impl_->position.load(), impl_->delivered.load(), impl_->failures.load());
}

}  // namespace honeycomb::node
