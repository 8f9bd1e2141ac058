#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "io/run_on_pool.hpp"
#include "io_test_util.hpp"

using namespace cheese::io;
using namespace cheese::io::test;
using namespace std::chrono_literals;

namespace {

//! The smallest pool: one worker thread, jobs in order; joins on destruction.
class OneThreadPool {
 public:
  OneThreadPool() : worker_([this] { work(); }) {}
  ~OneThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
  std::thread::id id() const { return worker_.get_id(); }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace

TEST_CASE("run_on_pool returns fn's value on the coroutine's own thread", "[io][run_on_pool]") {
  asio::io_context io;
  OneThreadPool pool;
  std::thread::id ran_on;
  std::thread::id resumed_on;
  std::string value;
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        value = co_await run_on_pool<std::string>(pool, [&] {
          ran_on = std::this_thread::get_id();
          return std::string("computed");
        });
        resumed_on = std::this_thread::get_id();
        co_await run_on_pool<void>(pool, [] {});
      },
      Record{&done, &error});
  REQUIRE(run_until(
      io, [&] { return done; }, 5s));
  CHECK_FALSE(error);
  CHECK(value == "computed");
  CHECK(ran_on == pool.id());
  CHECK(resumed_on == std::this_thread::get_id());
}

TEST_CASE("run_on_pool rethrows fn's exception in the coroutine", "[io][run_on_pool]") {
  asio::io_context io;
  OneThreadPool pool;
  std::string caught;
  std::thread::id caught_on;
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          (void)co_await run_on_pool<int>(pool, []() -> int { throw std::runtime_error("bad input"); });
        } catch (const std::runtime_error& e) {
          caught = e.what();
          caught_on = std::this_thread::get_id();
        }
        try {
          co_await run_on_pool<void>(pool, [] { throw std::logic_error("void too"); });
        } catch (const std::logic_error& e) {
          caught += std::string(", ") + e.what();
        }
      },
      Record{&done, &error});
  REQUIRE(run_until(
      io, [&] { return done; }, 5s));
  CHECK_FALSE(error);
  CHECK(caught == "bad input, void too");
  CHECK(caught_on == std::this_thread::get_id());
}
