#pragma once

#include <coroutine>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace cheese::io {

//! Runs fn() on `pool` (anything with post(std::function<void()>)) and resumes the awaiting
//! coroutine on its own executor with the result; an exception from fn is rethrown there.
//! The io_context keeps running while fn runs (work guard); fn is not cancellable, so a cancelled
//! coroutine still waits for it.
template <typename T, typename Pool, typename Fn>
boost::asio::awaitable<T> run_on_pool(Pool& pool, Fn fn) {
  namespace asio = boost::asio;
  auto executor = co_await asio::this_coro::executor;
  // std::function needs a copyable job; the coroutine's handler is move-only, so the job holds it
  // through a shared_ptr.
  auto initiate = [&pool, executor](auto handler, Fn job) {
    using Handler = decltype(handler);
    struct Job {
      Handler handler;
      Fn fn;
      asio::executor_work_guard<asio::any_io_executor> work;
    };
    auto shared = std::make_shared<Job>(Job{std::move(handler), std::move(job), asio::make_work_guard(executor)});
    pool.post([shared]() mutable {
      std::exception_ptr error;
      auto resume_on = asio::get_associated_executor(shared->handler, shared->work.get_executor());
      if constexpr (std::is_void_v<T>) {
        try {
          shared->fn();
        } catch (...) {
          error = std::current_exception();
        }
        asio::post(resume_on, [shared, error]() mutable {
          auto resume = std::move(shared->handler);
          shared.reset();
          std::move(resume)(error);
        });
      } else {
        std::optional<T> value;
        try {
          value.emplace(shared->fn());
        } catch (...) {
          error = std::current_exception();
        }
        asio::post(resume_on, [shared, error, value = std::move(value)]() mutable {
          auto resume = std::move(shared->handler);
          shared.reset();
          std::move(resume)(error, std::move(value));
        });
      }
    });
  };
  if constexpr (std::is_void_v<T>) {
    co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
        std::move(initiate), asio::use_awaitable, std::move(fn));
  } else {
    std::optional<T> value =
        co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, std::optional<T>)>(
            std::move(initiate), asio::use_awaitable, std::move(fn));
    co_return std::move(*value);
  }
}

}  // namespace cheese::io
