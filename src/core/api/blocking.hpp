// Runs a blocking call (storage, token lookup) on the database pool and
// resumes the calling coroutine on its own executor with the result, so
// the I/O threads never wait on the database. No capturing lambda
// coroutine: the call is a plain function object posted to the pool.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <type_traits>
#include <utility>

namespace honeycomb::core::api {

/// `fn()` on `pool`; its result (or exception) back in the coroutine.
/// The result type must be default-constructible and movable.
template <class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn&>> run_blocking(boost::asio::thread_pool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  auto initiation = [&pool](auto handler, Fn f) {
    boost::asio::post(pool, [handler = std::move(handler), f = std::move(f)]() mutable {
      std::exception_ptr error;
      R result{};
      try {
        result = f();
      } catch (...) {
        error = std::current_exception();
      }
      auto executor = boost::asio::get_associated_executor(handler);
      boost::asio::dispatch(executor, [handler = std::move(handler), error, result = std::move(result)]() mutable {
        std::move(handler)(error, std::move(result));
      });
    });
  };
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::exception_ptr, R)>(
      std::move(initiation), boost::asio::use_awaitable, std::move(fn));
}

}  // namespace honeycomb::core::api
