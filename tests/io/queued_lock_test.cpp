// QueuedLock: first come first served, a bounded queue (nullopt beyond it, nothing queued), and
// cancelled waiters leave the queue without taking the lock.
#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <vector>

#include "io/queued_lock.hpp"
#include "io_test_util.hpp"

using namespace cheese::io;
using namespace cheese::io::test;

namespace {

//! Takes the lock, records its turn, and holds it until `*release` is set.
asio::awaitable<void> take_and_hold(QueuedLock& lock, int id, std::vector<int>& order, const bool* release) {
  auto guard = co_await lock.lock();
  if (!guard) {
    order.push_back(-id);  // refused: the queue was full
    co_return;
  }
  order.push_back(id);
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0; i < 1000 && !*release; ++i) {
    t.expires_after(std::chrono::milliseconds(1));
    co_await t.async_wait(asio::use_awaitable);
  }
}

}  // namespace

TEST_CASE("queued lock: FIFO turns, and a caller beyond the bound is refused at once", "[io][queued_lock]") {
  constexpr std::size_t kBound = 3;
  asio::io_context io;
  QueuedLock lock(io.get_executor(), kBound);
  std::vector<int> order;
  bool release = false;
  std::vector<bool> done(kBound + 2, false);
  std::vector<std::exception_ptr> errors(kBound + 2);
  // 1 holds; 2..kBound+1 wait (exactly the bound); kBound+2 is one too many.
  for (int id = 1; id <= static_cast<int>(kBound) + 2; ++id) {
    const auto i = static_cast<std::size_t>(id - 1);
    asio::co_spawn(io, take_and_hold(lock, id, order, &release), [&, i](std::exception_ptr e) {
      done[i] = true;
      errors[i] = std::move(e);
    });
    for (int k = 0; k < 5; ++k) {
      io.restart();
      io.poll();
    }
  }
  CHECK(lock.locked());
  CHECK(lock.waiting() == kBound);
  CHECK(lock.max_waiting() == kBound);
  // The one beyond the bound was refused without waiting and queued nothing.
  REQUIRE(done[kBound + 1]);
  CHECK(order == std::vector<int>{1, -static_cast<int>(kBound + 2)});
  release = true;
  REQUIRE(run_until(io, [&] { return std::find(done.begin(), done.end(), false) == done.end(); }));
  CHECK(order == std::vector<int>{1, -5, 2, 3, 4});
  for (const auto& e : errors) CHECK_FALSE(e);
  CHECK_FALSE(lock.locked());
  CHECK(lock.waiting() == 0);
  // Free again: taken at once.
  std::optional<QueuedLock::Guard> g;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { g = co_await lock.lock(); }, Record{&release, &errors[0]});
  release = false;
  REQUIRE(run_until(io, [&] { return release; }));
  REQUIRE(g.has_value());
  CHECK(g->owns());
  CHECK(lock.locked());
  g.reset();
  CHECK_FALSE(lock.locked());
}

TEST_CASE("queued lock: a cancelled waiter leaves the queue and the next one gets the lock", "[io][queued_lock]") {
  asio::io_context io;
  QueuedLock lock(io.get_executor(), 2);
  std::optional<QueuedLock::Guard> holder;
  bool held = false;
  std::exception_ptr e0;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { holder = co_await lock.lock(); }, Record{&held, &e0});
  REQUIRE(run_until(io, [&] { return held; }));
  REQUIRE(holder.has_value());

  asio::cancellation_signal cancel;
  bool first_done = false;
  std::exception_ptr first_error;
  bool first_got = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto g = co_await lock.lock();
        first_got = g.has_value();
      },
      asio::bind_cancellation_slot(cancel.slot(), Record{&first_done, &first_error}));
  bool second_done = false;
  std::exception_ptr second_error;
  bool second_got = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto g = co_await lock.lock();
        second_got = g.has_value();
      },
      Record{&second_done, &second_error});
  REQUIRE(run_until(io, [&] { return lock.waiting() == 2; }));
  cancel.emit(asio::cancellation_type::terminal);
  REQUIRE(run_until(io, [&] { return first_done; }));
  CHECK(first_error);  // operation_aborted
  CHECK_FALSE(first_got);
  CHECK(lock.waiting() == 1);
  CHECK_FALSE(second_done);
  holder.reset();  // hands the lock to the second waiter
  REQUIRE(run_until(io, [&] { return second_done; }));
  CHECK_FALSE(second_error);
  CHECK(second_got);
  CHECK_FALSE(lock.locked());
}
