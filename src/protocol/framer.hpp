// Splits a byte stream from a peer into JSON values: several envelopes in
// one read, one envelope split across reads, with or without '\n' between
// them. Bounded: a value longer than max_bytes is an error and is skipped up
// to the next newline; so is a syntax error. Never throws on input.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <functional>
#include <optional>
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
    /// Optional, tried first for each value whose line ends within the same
    /// feed (the text from the value's first byte to the '\n', at most
    /// max_bytes): true when the sink took it itself, false to have it
    /// parsed as usual. The core reads its PotEvents this way
    /// (core/pot_event_reader.hpp).
    std::function<bool(std::string_view line)> on_line;
  };

  /// Where parsed values live. `owned`: the default memory resource; the
  /// sink may keep the value or parts of it. `scratch`: a memory resource of
  /// the framer's, emptied as soon as on_value returns, so one value costs
  /// one allocation instead of one per object and string (the core's hot
  /// path: malloc/free were a quarter of an I/O thread's time); the sink must
  /// not keep anything of the value (decode_borrowed() messages included).
  enum class ValueMemory { owned, scratch };

  explicit Framer(std::size_t max_bytes = std::size_t{4} * 1024 * 1024, ValueMemory memory = ValueMemory::owned);

  /// Feeds the next bytes of the stream; calls the sink zero or more times.
  void feed(std::string_view bytes, const Sink& sink);

  /// Bytes of the value being parsed (0 between values).
  std::size_t pending_bytes() const { return pending_; }

 private:
  /// Back to a fresh value (after one was taken, or after an error).
  void restart_value();

  /// Blocks are taken when a value is parsed and all freed after it (none
  /// kept between values: 10,000 idle nodes hold no parse memory). Made
  /// anew for each value: Boost 1.81's release() frees the blocks but keeps
  /// doubling the next block's size, which overflows after a few dozen.
  /// Empty in `owned` mode.
  std::optional<boost::json::monotonic_resource> scratch_;
  boost::json::stream_parser parser_;
  std::size_t max_bytes_;
  std::size_t pending_ = 0;  ///< bytes fed into the current value
  bool in_value_ = false;    ///< a value has started (non-whitespace seen)
  bool skipping_ = false;    ///< discarding until '\n' after an error
};

}  // namespace honeycomb::protocol
