// Streamed export of an event query as JSON lines or CSV. Pages of
// Limits::export_page events are read and formatted on the database pool,
// one page per next() call, so memory stays bounded whatever the result
// size and a slow client never holds a database thread or transaction
// (keyset pagination through the storage's cursor, newest first).
#pragma once

#include "core/api/state.hpp"
#include "store/storage.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace honeycomb::core::api {

class Exporter {
 public:
  enum class Format { jsonl, csv };

  Exporter(std::shared_ptr<State> state, store::EventFilter filter, Format format,
           std::optional<std::uint64_t> max_rows);

  std::string_view content_type() const;
  std::string_view filename() const;
  /// The next block of output; empty when the export is complete. Throws
  /// std::runtime_error when the storage fails (the response is then cut
  /// short: the client sees an incomplete chunked body).
  boost::asio::awaitable<std::string> next();
  std::uint64_t rows() const { return rows_; }

 private:
  std::shared_ptr<State> state_;
  store::EventFilter filter_;
  Format format_;
  std::optional<std::uint64_t> max_rows_;
  std::string cursor_;
  bool header_done_ = false;
  bool done_ = false;
  std::uint64_t rows_ = 0;
};

}  // namespace honeycomb::core::api
