// A SyncReadStream over the fuzzer's bytes for Beast's http::read: what a
// socket would deliver, in reads of at most `chunk` bytes, then EOF. The
// servers read with async_read over the same parser, buffer and limits.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace honeycomb::fuzz {

class MemoryStream {
 public:
  MemoryStream(std::string_view data, std::size_t chunk) : data_(data), chunk_(std::max<std::size_t>(chunk, 1)) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    if (data_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec = {};
    const auto n = boost::asio::buffer_copy(buffers, boost::asio::buffer(data_.data(), std::min(chunk_, data_.size())));
    data_.remove_prefix(n);
    return n;
  }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) {
      throw boost::system::system_error(ec);
    }
    return n;
  }

  std::size_t remaining() const { return data_.size(); }

 private:
  std::string_view data_;
  std::size_t chunk_;
};

}  // namespace honeycomb::fuzz
