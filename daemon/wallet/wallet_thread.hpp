#pragma once

// Bridges between the io thread and the wallet's own threads (Argon2id runs there), and the
// wallet manager's background coroutines. Internal to daemon/wallet/.

#include <coroutine>

#include <boost/asio.hpp>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "util/log.hpp"

namespace cheese {

namespace asio = boost::asio;

//! Runs fn() on `pool` and resumes on the calling coroutine's executor with its result (fn must
//! not throw).
template <typename T, typename Fn>
asio::awaitable<T> on_thread(asio::thread_pool& pool, Fn fn) {
  auto executor = co_await asio::this_coro::executor;
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the initiation.
  auto initiation = [&pool, executor, fn = std::move(fn)](auto handler) mutable {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    asio::post(pool, [executor, fn = std::move(fn), shared]() mutable {
      auto result = std::make_shared<T>(fn());
      asio::post(executor, [shared, result]() mutable { (*shared)(std::move(*result)); });
    });
  };
  auto pending = asio::async_initiate<decltype(asio::use_awaitable), void(T)>(initiation, asio::use_awaitable);
  T result = co_await std::move(pending);
  co_return result;
}

//! Starts a wallet background coroutine (a chain scan, a resubmission). It stops by itself once
//! its wallet is unloaded (LoadedWallet::unloaded), which stop() and unload() set; an exception
//! is logged instead of being dropped as asio::detached would.
// TaskGroup: switch to cheese::io::TaskGroup (owned, cancelled and awaited by stop()) once it is
// merged from libcheese/io.
inline void spawn_wallet_task(asio::io_context& io, asio::awaitable<void> task, std::string what) {
  asio::co_spawn(io, std::move(task), [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_info("{} failed: {}", what, ex.what());
    } catch (...) {
      log_info("{} failed", what);
    }
  });
}

}  // namespace cheese
