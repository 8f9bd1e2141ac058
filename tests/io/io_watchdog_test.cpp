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

//! A started watchdog on its own io_context, with what it logged.
struct Watched {
  asio::io_context io;
  std::vector<Logged> logged;
  IoWatchdog w{io.get_executor(), [this](std::string_view task, std::chrono::microseconds held) {
                 logged.push_back({std::string(task), held});
               }};
  Watched() { w.start(); }
};

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

TEST_CASE("an idle io thread slows its heartbeat to the idle tick, and a named task brings it back",
          "[io][watchdog]") {
  Watched watched;
  auto& [io, logged, w] = watched;
  // Idle for 1.2 s: kIoQuietBeats beats at kIoLagTick, then one every kIoIdleTick. At 10 ms
  // throughout it would be about 120 beats.
  asio::steady_timer idle_for(io, 1200ms);
  bool idled = false;
  idle_for.async_wait([&](const boost::system::error_code&) { idled = true; });
  run_until(
      io, [&] { return idled; }, 10s);
  REQUIRE(idled);
  CHECK(w.idle());
  const auto idle_beats = w.stats().beats;
  CHECK(idle_beats >= kIoQuietBeats);
  // Unloaded: kIoQuietBeats + 2 or 3. A late beat (a loaded machine) restarts the quiet count, so
  // the bound leaves room for several, far below the 120 of a 10 ms heartbeat.
  CHECK(idle_beats <= 40);

  // A named task that begins while idle is measured from its start, as at 10 ms: its stall is
  // logged under its name, at least its length less one kIoLagTick.
  std::optional<std::size_t> before;
  asio::post(io, [&] {
    before = logged.size();
    const auto named = w.scope("rpc", "afteridle");
    CHECK_FALSE(w.idle());
    std::this_thread::sleep_for(3 * kIoStallWarning);
  });
  run_until(
      io, [&] { return before && logged.size() > *before; }, 10s);
  REQUIRE(before);
  REQUIRE(logged.size() > *before);
  CHECK(logged[*before].task == "rpc afteridle");
  CHECK(logged[*before].held >= 3 * kIoStallWarning - kIoLagTick);
  CHECK_FALSE(w.idle());
  w.stop();
}

TEST_CASE("an unnamed stall that begins while idle is still caught when longer than the idle tick",
          "[io][watchdog]") {
  Watched watched;
  auto& [io, logged, w] = watched;
  bool done = false;
  asio::steady_timer later(io, 300ms);  // idle by then
  later.async_wait([&](const boost::system::error_code&) {
    REQUIRE(w.idle());
    std::this_thread::sleep_for(kIoIdleTick + 3 * kIoStallWarning);
    done = true;
  });
  run_until(
      io, [&] { return done && !logged.empty(); }, 10s);
  w.stop();
  REQUIRE_FALSE(logged.empty());
  CHECK(logged.back().task == "(unnamed)");
  // Reported at most one idle tick short.
  CHECK(logged.back().held >= 3 * kIoStallWarning);
}
