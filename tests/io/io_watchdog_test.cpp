// The io thread's watchdog: a deliberately slow task is logged and counted under its scope's name,
// one outside any scope as "(unnamed)"; counters keep the longest and per-task figures. Slow
// tasks sleep well past the bound (3x), so the checks hold on a loaded machine; nothing asserts
// that something is fast.
#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/io_watchdog.hpp"
#include "io_test_util.hpp"

using namespace cheese::io;
using namespace cheese::io::test;
using namespace std::chrono_literals;

namespace {

struct Logged {
  std::string task;
  std::chrono::microseconds held;
};

//! Runs `slow` on a started watchdog's io_context, then lets the lag timer fire; returns the
//! first stall logged after `slow` began (a stall before it, e.g. the machine pausing this
//! process, is left out) and the counters.
Logged run_slow_task(const std::function<void(IoWatchdog&)>& slow, IoStallStats* stats) {
  asio::io_context io;
  std::vector<Logged> logged;
  IoWatchdog watchdog(io.get_executor(), [&](std::string_view task, std::chrono::microseconds held) {
    logged.push_back({std::string(task), held});
  });
  watchdog.start();
  // A few quiet beats first, then the slow task, then until its stall is logged (bounded).
  std::optional<std::size_t> before;
  asio::steady_timer later(io, 30ms);
  later.async_wait([&](const boost::system::error_code&) {
    before = logged.size();
    slow(watchdog);
  });
  run_until(
      io, [&] { return before && logged.size() > *before; }, 10s);
  *stats = watchdog.stats();
  watchdog.stop();
  REQUIRE(before);
  REQUIRE(logged.size() > *before);
  return logged[*before];
}

}  // namespace

TEST_CASE("a slow task inside a scope is logged and counted under its name", "[io][watchdog]") {
  IoStallStats stats;
  const Logged logged = run_slow_task(
      [](IoWatchdog& w) {
        const auto named = w.scope("rpc", "slowtest");
        std::this_thread::sleep_for(3 * kIoStallWarning);
      },
      &stats);
  CHECK(logged.task == "rpc slowtest");
  CHECK(logged.held > kIoStallWarning);
  CHECK(stats.stalls >= 1);
  CHECK(stats.longest >= logged.held);
  REQUIRE(stats.tasks.count("rpc slowtest") == 1);
  CHECK(stats.tasks.at("rpc slowtest").stalls == 1);
}

TEST_CASE("a slow task outside any scope is counted as unnamed", "[io][watchdog]") {
  IoStallStats stats;
  const Logged logged = run_slow_task([](IoWatchdog&) { std::this_thread::sleep_for(3 * kIoStallWarning); }, &stats);
  CHECK(logged.task == "(unnamed)");
  CHECK(stats.tasks.count("(unnamed)") == 1);
}

TEST_CASE("a scope that ended before the stall does not name it", "[io][watchdog]") {
  IoStallStats stats;
  const Logged logged = run_slow_task(
      [](IoWatchdog& w) {
        { const auto named = w.scope("p2p", "ping"); }
        std::this_thread::sleep_for(3 * kIoStallWarning);
      },
      &stats);
  CHECK(logged.task == "(unnamed)");
}

TEST_CASE("scope_here names work on the thread whose watchdog started, and nothing elsewhere", "[io][watchdog]") {
  // No watchdog on this thread: a no-op.
  { const auto named = IoWatchdog::scope_here("p2p", "inv"); }
  IoStallStats stats;
  const Logged logged = run_slow_task(
      [](IoWatchdog&) {
        const auto named = IoWatchdog::scope_here("connect block", {});
        std::this_thread::sleep_for(3 * kIoStallWarning);
      },
      &stats);
  CHECK(logged.task == "connect block");
}

TEST_CASE("overlapping scopes: the name is cleared by the scope that set it", "[io][watchdog]") {
  // Two RPCs suspended at once: the first one ending must not clear the second one's name, and
  // the second one ending leaves no stale name behind.
  IoStallStats stats;
  const Logged logged = run_slow_task(
      [](IoWatchdog& w) {
        auto first = std::make_unique<IoWatchdog::Scope>(&w, "rpc", "first");
        auto second = std::make_unique<IoWatchdog::Scope>(&w, "rpc", "second");
        first.reset();
        std::this_thread::sleep_for(3 * kIoStallWarning);
        second.reset();
      },
      &stats);
  CHECK(logged.task == "rpc second");
}

TEST_CASE("stall counters: count, longest and per task", "[io][watchdog]") {
  asio::io_context io;
  std::vector<std::string> logged;
  IoWatchdog w(io.get_executor(),
               [&](std::string_view task, std::chrono::microseconds) { logged.emplace_back(task); });
  w.record("rpc getblock", 60ms);
  w.record("p2p headers", 200ms);
  w.record("rpc getblock", 90ms);
  const IoStallStats& s = w.stats();
  CHECK(s.stalls == 3);
  CHECK(s.longest == 200ms);
  CHECK(s.longest_task == "p2p headers");
  CHECK(s.tasks.at("rpc getblock").stalls == 2);
  CHECK(s.tasks.at("rpc getblock").longest == 90ms);
  CHECK(s.tasks.at("rpc getblock").total == 150ms);
  CHECK(s.bound == kIoStallWarning);
  CHECK(logged == std::vector<std::string>{"rpc getblock", "p2p headers", "rpc getblock"});
}

TEST_CASE("a task name longer than the limit is cut, not overrun", "[io][watchdog]") {
  IoStallStats stats;
  const std::string long_name(200, 'x');
  const Logged logged = run_slow_task(
      [&](IoWatchdog& w) {
        const auto named = w.scope("rpc", long_name);
        std::this_thread::sleep_for(3 * kIoStallWarning);
      },
      &stats);
  CHECK(logged.task.size() == kIoTaskNameMax);
  CHECK(logged.task.starts_with("rpc xxx"));
}
