// Request -> reply: authentication, rate limit, routing and the handlers of
// every endpoint (docs/API.md). Independent of the stream type (plain or
// TLS): a streamed export comes back as an Exporter the session drains.
#pragma once

#include "core/api/export.hpp"
#include "core/api/state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace honeycomb::core::api {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Reply {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<boost::beast::http::field, std::string>> headers;
  /// Headers Beast has no enum for (Content-Security-Policy, Referrer-Policy).
  std::vector<std::pair<std::string, std::string>> named_headers;
  /// Set for a streamed export: the body comes from it, chunk by chunk.
  std::shared_ptr<Exporter> exporter;
  /// Set instead of `body` for a dashboard file: written from the file held
  /// in memory, never copied per request.
  std::shared_ptr<const std::string> shared_body;
  /// A HEAD request: the headers, Content-Length included, without the body.
  bool head = false;
};

/// A JSON error reply `{"error":...,"status":N}`.
Reply error_reply(boost::beast::http::status status, std::string_view message);

/// Handles one request from `client` (its IP address, the rate limit key).
/// Never throws for bad input; an unexpected exception becomes a 500.
boost::asio::awaitable<Reply> handle(std::shared_ptr<State> state, Request request, std::string client);

}  // namespace honeycomb::core::api
