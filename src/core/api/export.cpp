#include "core/api/export.hpp"

#include "core/api/blocking.hpp"
#include "core/api/views.hpp"

#include <stdexcept>
#include <utility>

namespace honeycomb::core::api {

namespace {

struct Block {
  std::string text;
  std::string next_cursor;
  std::uint64_t rows = 0;
  std::string error;
};

}  // namespace

Exporter::Exporter(std::shared_ptr<State> state, store::EventFilter filter, Format format,
                   std::optional<std::uint64_t> max_rows)
    : state_(std::move(state)), filter_(std::move(filter)), format_(format), max_rows_(max_rows) {}

std::string_view Exporter::content_type() const {
  return format_ == Format::csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

std::string_view Exporter::filename() const {
  return format_ == Format::csv ? "events.csv" : "events.jsonl";
}

boost::asio::awaitable<std::string> Exporter::next() {
  if (done_) {
    co_return std::string();
  }
  std::size_t page = state_->limits.export_page;
  if (max_rows_) {
    page = static_cast<std::size_t>(std::min<std::uint64_t>(page, *max_rows_ - rows_));
  }
  store::EventQuery query{filter_, page, cursor_};
  const bool header = format_ == Format::csv && !header_done_;
  const Format format = format_;
  store::Storage* storage = &state_->context.storage;
  // Named, not a temporary in the co_await expression: GCC 12 destroys such
  // lambda temporaries wrongly (double free).
  auto call = [storage, query = std::move(query), header, format] {
    Block b;
    auto result = storage->query(query);
    if (!result) {
      b.error = result.error.message;
      return b;
    }
    if (header) {
      append_csv_header(b.text);
    }
    for (const auto& event : result.value->events) {
      if (format == Format::csv) {
        append_csv_row(b.text, event);
      } else {
        append_jsonl_row(b.text, event);
      }
    }
    b.rows = result.value->events.size();
    b.next_cursor = std::move(result.value->next_cursor);
    return b;
  };
  Block block = co_await run_blocking(state_->context.db_pool, std::move(call));
  if (!block.error.empty()) {
    done_ = true;
    throw std::runtime_error("export: " + block.error);
  }
  header_done_ = true;
  rows_ += block.rows;
  cursor_ = std::move(block.next_cursor);
  if (cursor_.empty() || block.rows == 0 || (max_rows_ && rows_ >= *max_rows_)) {
    done_ = true;
  }
  co_return std::move(block.text);
}

}  // namespace honeycomb::core::api
