// Splits an event-port byte stream into lines, bounded: a line longer than
// the limit is not buffered — its first bytes are kept and the rest is
// skipped up to the next '\n', then it is reported as oversized (the node
// turns it into an anomaly event) and the connection goes on. Complete lines
// inside one read are handed out without copying. Never throws on input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::node {

class LineAssembler {
 public:
  /// Bytes after every line handed out that the caller may read (not
  /// write). The line check needs none since it parses with Boost.JSON;
  /// kept so that a SIMD parser, which reads up to 64 bytes past the end of
  /// its input, can check lines in place.
  static constexpr std::size_t kPadding = 64;
  /// How much of an oversized line is kept for its anomaly event.
  static constexpr std::size_t kHeadBytes = 1024;

  explicit LineAssembler(std::size_t max_line_bytes) : max_line_(max_line_bytes) {}

  /// Feeds the next bytes read. `bytes` must be followed by kPadding
  /// readable bytes (the read buffer's slack). Calls
  /// on_line(std::string_view line) for each complete line (without '\n',
  /// also with kPadding readable bytes after it; the view stays valid until
  /// the next feed() or finish(), so a caller may collect a whole read's
  /// lines before using them) and
  /// on_oversize(std::string_view head, std::size_t total_bytes) for each
  /// line over the limit, in stream order.
  template <class OnLine, class OnOversize>
  void feed(std::string_view bytes, OnLine&& on_line, OnOversize&& on_oversize);

  /// The connection ended: a last line without '\n' is still a line (a
  /// client that closes right after its event), an oversized one is reported.
  template <class OnLine, class OnOversize>
  void finish(OnLine&& on_line, OnOversize&& on_oversize);
  /// Frees what the last feed()/finish() still held for its views.
  void release() {
    release_completed();
    release_partial();
  }

  /// Bytes held for an incomplete line (bounded by the limit).
  std::size_t buffered() const { return partial_size_; }

 private:
  void append_partial(std::string_view bytes);
  /// Forgets the held line; a buffer grown by a long line is given back, so
  /// thousands of mostly idle connections stay small.
  void release_partial() {
    partial_size_ = 0;
    if (partial_.size() > kKeepBytes) {
      std::vector<char>().swap(partial_);
    }
  }
  static constexpr std::size_t kKeepBytes = std::size_t{16} * 1024;
  /// The held line is complete: it moves to completed_ (whose view the
  /// caller may keep until the next call) and the held buffer is reused.
  std::string_view complete_partial() {
    std::swap(partial_, completed_);
    const std::string_view line(completed_.data(), partial_size_);
    partial_size_ = 0;
    if (partial_.size() > kKeepBytes) {
      std::vector<char>().swap(partial_);
    }
    return line;
  }
  void release_completed() {
    if (completed_.size() > kKeepBytes) {
      std::vector<char>().swap(completed_);
    }
  }

  std::size_t max_line_;
  std::vector<char> partial_;    ///< incomplete line, size partial_size_ + kPadding slack
  std::vector<char> completed_;  ///< the last line completed from partial_ (its view is the caller's)
  std::size_t partial_size_ = 0;
  bool skipping_ = false;  ///< inside an oversized line
  std::size_t skipped_total_ = 0;
  std::string head_;  ///< first kHeadBytes of the oversized line
};

template <class OnLine, class OnOversize>
void LineAssembler::feed(std::string_view bytes, OnLine&& on_line, OnOversize&& on_oversize) {
  release_completed();
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    const auto chunk = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl);
    if (skipping_) {
      skipped_total_ += chunk.size();
    } else if (partial_size_ + chunk.size() > max_line_) {
      skipping_ = true;
      head_.assign(partial_.data(), partial_size_);
      head_.append(chunk.substr(0, kHeadBytes > head_.size() ? kHeadBytes - head_.size() : 0));
      if (head_.size() > kHeadBytes) {
        head_.resize(kHeadBytes);
      }
      skipped_total_ = partial_size_ + chunk.size();
      release_partial();
    } else if (nl != std::string_view::npos && partial_size_ == 0) {
      on_line(chunk);  // the fast path: a whole line inside this read
    } else {
      append_partial(chunk);
      if (nl != std::string_view::npos) {
        on_line(complete_partial());
      }
    }
    if (nl == std::string_view::npos) {
      return;
    }
    if (skipping_) {
      on_oversize(std::string_view(head_), skipped_total_);
      skipping_ = false;
      skipped_total_ = 0;
      head_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

template <class OnLine, class OnOversize>
void LineAssembler::finish(OnLine&& on_line, OnOversize&& on_oversize) {
  if (skipping_) {
    on_oversize(std::string_view(head_), skipped_total_);
  } else if (partial_size_ > 0) {
    on_line(complete_partial());
  }
  skipping_ = false;
  skipped_total_ = 0;
  head_.clear();
}

inline void LineAssembler::append_partial(std::string_view bytes) {
  if (partial_.size() < partial_size_ + bytes.size() + kPadding) {
    partial_.resize(std::max(partial_.size() * 2, partial_size_ + bytes.size() + kPadding));
  }
  std::copy(bytes.begin(), bytes.end(), partial_.begin() + static_cast<std::ptrdiff_t>(partial_size_));
  partial_size_ += bytes.size();
}

}  // namespace honeycomb::node
