#include "protocol/framer.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

namespace honeycomb::protocol {
namespace {

bool is_json_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/// The first block of a scratch resource: a typical envelope (~1 KB of
/// JSON, a few KB parsed) fits in one.
constexpr std::size_t kScratchBlock = 8192;

}  // namespace

Framer::Framer(std::size_t max_bytes, ValueMemory memory) : max_bytes_(std::max<std::size_t>(max_bytes, 1)) {
  if (memory == ValueMemory::scratch) {
    scratch_.emplace(kScratchBlock);
  }
  restart_value();
}

void Framer::restart_value() {
  parser_.reset();  // drops any partial value before its memory goes
  if (scratch_) {
    scratch_.emplace(kScratchBlock);  // the old resource, and its blocks, go first
    // The value's memory; the parser's own temporary storage stays the
    // default (its constructor's argument would set that one).
    parser_.reset(boost::json::storage_ptr(&*scratch_));
  }
}

void Framer::feed(std::string_view bytes, const Sink& sink) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  // The next '\n' at or after p, searched once per feed: many values on one
  // line ({..}{..}{..}) must not rescan the line for each value.
  const char* newline = nullptr;
  bool newline_known = false;
  const auto next_newline = [&]() -> const char* {
    if (!newline_known || (newline != nullptr && newline < p)) {
      newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      newline_known = true;
    }
    return newline;
  };
  const auto fail = [&](std::string_view reason) {
    restart_value();
    in_value_ = false;
    pending_ = 0;
    if (sink.on_error) {
      sink.on_error(reason);
    }
  };

  while (p != end) {
    if (skipping_) {
      const char* nl = next_newline();
      if (nl == nullptr) {
        return;  // the rest of this feed is discarded, not buffered
      }
      p = nl + 1;
      skipping_ = false;
      continue;
    }
    if (!in_value_) {
      while (p != end && is_json_space(*p)) {
        ++p;
      }
      if (p == end) {
        return;
      }
      if (sink.on_line) {
        const char* nl = next_newline();
        if (nl != nullptr && static_cast<std::size_t>(nl - p) <= max_bytes_ &&
            sink.on_line(std::string_view(p, static_cast<std::size_t>(nl - p)))) {
          p = nl + 1;
          continue;
        }
      }
      in_value_ = true;
    }
    if (pending_ >= max_bytes_) {
      skipping_ = true;
      fail("envelope larger than " + std::to_string(max_bytes_) + " bytes");
      continue;
    }
    // Feed up to and including the next '\n', so that a syntax error lies in
    // this piece and skipping resumes after it; never beyond max_bytes.
    const char* nl = next_newline();
    const char* piece_end = nl != nullptr ? nl + 1 : end;
    const auto piece = static_cast<std::size_t>(piece_end - p);
    const std::size_t len = std::min(piece, max_bytes_ - pending_);
    boost::system::error_code ec;
    std::size_t used = 0;
    std::string exception_reason;
    try {
      used = parser_.write_some(p, len, ec);
    } catch (const std::exception& e) {  // allocation failure and the like: not input errors
      exception_reason = e.what();
    }
    if (ec || !exception_reason.empty()) {
      // Whole piece fed and it ended with '\n': the skip is already done.
      const bool through_newline = len == piece && nl != nullptr;
      p += len;
      skipping_ = !through_newline;
      const std::string reason = ec ? ec.message() : exception_reason;
      fail(reason);
      continue;
    }
    pending_ += used;
    p += used;
    if (parser_.done()) {
      in_value_ = false;
      pending_ = 0;
      {
        boost::json::value value = parser_.release();
        if (sink.on_value) {
          sink.on_value(std::move(value));
        }
      }  // the value is gone before its scratch memory is
      restart_value();
    }
  }
}

}  // namespace honeycomb::protocol
