#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "io/task_group.hpp"
#include "io_test_util.hpp"

using namespace cheese::io;
using namespace cheese::io::test;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> sleep_then(std::chrono::milliseconds d, std::function<void()> then) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  then();
}

using Logged = std::vector<std::pair<std::string, std::string>>;

TaskGroup::ErrorLog log_into(Logged& logged) {
  return [&logged](std::string_view name, std::string_view what) { logged.emplace_back(name, what); };
}

}  // namespace

TEST_CASE("task group runs its tasks and join() completes when they are done", "[io][task_group]") {
  asio::io_context io;
  Logged logged;
  TaskGroup group(io.get_executor(), log_into(logged));
  int finished = 0;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(group.spawn("sleeper " + std::to_string(i),
                        sleep_then(std::chrono::milliseconds(10 * (i + 1)), [&] { ++finished; })));
  }
  CHECK(group.size() == 3);
  bool joined = false;
  std::exception_ptr error;
  asio::co_spawn(io, group.join(), Record{&joined, &error});
  REQUIRE(run_until(io, [&] { return joined; }));
  CHECK_FALSE(error);
  CHECK(finished == 3);
  CHECK(group.size() == 0);
  CHECK_FALSE(group.closed());
  CHECK(logged.empty());
}

TEST_CASE("task group close() cancels a task waiting on a timer and join() completes", "[io][task_group]") {
  asio::io_context io;
  Logged logged;
  TaskGroup group(io.get_executor(), log_into(logged));
  bool reached_end = false;
  // One task sees the cancellation as a value, one as the exception use_awaitable throws.
  boost::system::error_code seen;
  REQUIRE(group.spawn("as value", [](boost::system::error_code& out) -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    out = ec;
  }(seen)));
  REQUIRE(group.spawn("throws", sleep_then(1h, [&] { reached_end = true; })));
  // Let both reach their wait.
  run_until(
      io, [] { return false; }, 50ms);
  CHECK(group.size() == 2);

  group.close();
  group.close();  // idempotent
  CHECK(group.closed());
  bool joined = false;
  std::exception_ptr error;
  asio::co_spawn(io, group.join(), Record{&joined, &error});
  REQUIRE(run_until(
      io, [&] { return joined; }, 5s));
  CHECK_FALSE(error);
  CHECK(group.size() == 0);
  CHECK(seen == asio::error::operation_aborted);
  CHECK_FALSE(reached_end);
  CHECK(logged.empty());  // the cancellation after close() is not an error
}

TEST_CASE("task group refuses spawn after close()", "[io][task_group]") {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  group.close();
  bool ran = false;
  CHECK_FALSE(group.spawn("late", sleep_then(0ms, [&] { ran = true; })));
  CHECK(group.size() == 0);
  run_until(
      io, [] { return false; }, 50ms);
  CHECK_FALSE(ran);
  // join() on an empty group completes at once.
  bool joined = false;
  std::exception_ptr error;
  asio::co_spawn(io, group.join(), Record{&joined, &error});
  REQUIRE(run_until(
      io, [&] { return joined; }, 1s));
}

TEST_CASE("task group logs a task's exception with its name, and the others go on", "[io][task_group]") {
  asio::io_context io;
  Logged logged;
  TaskGroup group(io.get_executor(), log_into(logged));
  bool other_done = false;
  REQUIRE(group.spawn("faulty", sleep_then(5ms, [] { throw std::runtime_error("boom"); })));
  REQUIRE(group.spawn("steady", sleep_then(50ms, [&] { other_done = true; })));
  REQUIRE(run_until(
      io, [&] { return !logged.empty(); }, 5s));
  CHECK(group.size() == 1);
  bool joined = false;
  std::exception_ptr error;
  asio::co_spawn(io, group.join(), Record{&joined, &error});
  REQUIRE(run_until(
      io, [&] { return joined; }, 5s));
  CHECK(other_done);
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].first == "faulty");
  CHECK(logged[0].second == "boom");
}

TEST_CASE("task group can be destroyed with tasks pending once the io_context is stopped", "[io][task_group]") {
  asio::io_context io;
  {
    TaskGroup group(io.get_executor());
    REQUIRE(group.spawn("forever", sleep_then(1h, [] {})));
    run_until(
        io, [] { return false; }, 20ms);
    io.stop();
  }
  // The io_context destroys the suspended coroutine after the group is gone.
  SUCCEED();
}
