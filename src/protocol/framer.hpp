// Splits a byte stream from a peer into JSON values: several envelopes in
// one read, one envelope split across reads, with or without '\n' between
// them. Bounded: a value longer than max_bytes is an error and is skipped up
// to the next newline; so is a syntax error. Never throws on input.
#pragma once

#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace honeycomb::protocol {

class Framer {
 public:
  /// A complete value, or an error with its reason. Errors are reported once
  /// per bad value; after one the framer discards bytes until the next '\n'.
  struct Sink {
    std::function<void(boost::json::value&&)> on_value;
    std::function<void(std::string_view reason)> on_error;
  };

  explicit Framer(std::size_t max_bytes = std::size_t{4} * 1024 * 1024);

  /// Feeds the next bytes of the stream; calls the sink zero or more times.
  void feed(std::string_view bytes, const Sink& sink);

  /// Bytes of the value being parsed (0 between values).
  std::size_t pending_bytes() const { return pending_; }

 private:
  boost::json::stream_parser parser_;
  std::size_t max_bytes_;
  std::size_t pending_ = 0;  ///< bytes fed into the current value
  bool in_value_ = false;    ///< a value has started (non-whitespace seen)
  bool skipping_ = false;    ///< discarding until '\n' after an error
};

}  // namespace honeycomb::protocol
