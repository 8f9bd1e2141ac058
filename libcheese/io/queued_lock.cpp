#include "io/queued_lock.hpp"

#include <coroutine>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <deque>

namespace cheese::io {

namespace asio = boost::asio;

namespace {

//! One queued caller: a timer parked at time_point::max() that the lock's release cancels.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  bool granted = false;  //!< the releasing holder handed the lock to this caller
};

}  // namespace

struct QueuedLock::State {
  State(asio::any_io_executor ex, std::size_t max) : executor(std::move(ex)), max_waiting(max) {}
  asio::any_io_executor executor;
  std::size_t max_waiting;
  bool locked = false;
  std::deque<std::shared_ptr<Waiter>> waiters;

  void release() {
    if (waiters.empty()) {
      locked = false;
      return;
    }
    // Handed over directly (the lock stays taken): no later caller can overtake the queue.
    auto next = std::move(waiters.front());
    waiters.pop_front();
    next->granted = true;
    next->timer.cancel();
  }
};

QueuedLock::Guard& QueuedLock::Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    release();
    state_ = std::move(o.state_);
  }
  return *this;
}

void QueuedLock::Guard::release() {
  if (auto s = std::move(state_)) s->release();
}

QueuedLock::QueuedLock(asio::any_io_executor executor, std::size_t max_waiting)
    : state_(std::make_shared<State>(std::move(executor), max_waiting)) {}

asio::awaitable<std::optional<QueuedLock::Guard>> QueuedLock::lock() {
  auto state = state_;  // the coroutine keeps the queue alive while it waits
  if (!state->locked) {
    state->locked = true;
    co_return Guard(state);
  }
  if (state->waiters.size() >= state->max_waiting) co_return std::nullopt;
  auto me = std::make_shared<Waiter>(state->executor);
  state->waiters.push_back(me);
  // The timer never expires: it completes when release() cancels it, or when this coroutine's
  // cancellation slot does.
  co_await me->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (me->granted) co_return Guard(state);
  std::erase(state->waiters, me);
  throw boost::system::system_error(asio::error::operation_aborted);
}

bool QueuedLock::locked() const { return state_->locked; }
std::size_t QueuedLock::waiting() const { return state_->waiters.size(); }
std::size_t QueuedLock::max_waiting() const { return state_->max_waiting; }

}  // namespace cheese::io
