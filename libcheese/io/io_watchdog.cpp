#include "io/io_watchdog.hpp"

#include <algorithm>
#include <cstring>

namespace cheese::io {

namespace {

constexpr std::string_view kUnnamed = "(unnamed)";

thread_local IoWatchdog* this_thread_watchdog = nullptr;

std::int64_t steady_ns(IoWatchdog::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string_view view(const std::array<char, kIoTaskNameMax + 1>& name) { return std::string_view(name.data()); }

}  // namespace

IoWatchdog::IoWatchdog(boost::asio::any_io_executor io, Logger log, std::chrono::milliseconds bound,
                       std::chrono::milliseconds tick)
    : timer_(std::move(io)), log_(std::move(log)) {
  stats_.bound = bound;
  stats_.tick = tick;
}

IoWatchdog::~IoWatchdog() { stop(); }

void IoWatchdog::start() {
  if (running_) return;
  running_ = true;
  this_thread_watchdog = this;
  last_beat_ns_ = steady_ns(Clock::now());
  watcher_ = std::thread([this] { watch(); });
  arm();
}

void IoWatchdog::stop() {
  if (!running_) return;
  running_ = false;
  if (this_thread_watchdog == this) this_thread_watchdog = nullptr;
  timer_.cancel();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void IoWatchdog::arm() {
  due_ = Clock::now() + stats_.tick;
  timer_.expires_at(due_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    on_tick();
  });
}

void IoWatchdog::on_tick() {
  const auto now = Clock::now();
  const auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - due_);
  if (late > stats_.bound) {
    std::string task;
    {
      std::lock_guard lock(mutex_);
      if (seen_beat_ == beat_.load()) task = view(seen_);
    }
    record(task.empty() ? kUnnamed : task, late);
  }
  beat_.fetch_add(1);
  last_beat_ns_ = steady_ns(now);
  arm();
}

void IoWatchdog::watch() {
  // Samples twice per tick; only while the heartbeat is overdue by more than a tick does it look
  // at the name (the io thread is then inside one long turn).
  const auto period = std::max<Clock::duration>(stats_.tick / 2, std::chrono::milliseconds(1));
  const std::int64_t overdue_ns = 2 * std::chrono::duration_cast<std::chrono::nanoseconds>(stats_.tick).count();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period, [this] { return stopping_; });
    if (stopping_) break;
    if (steady_ns(Clock::now()) - last_beat_ns_.load() <= overdue_ns) continue;
    const std::uint64_t beat = beat_.load();
    if (seen_beat_ != beat || seen_[0] == '\0') {
      seen_ = name_;
      seen_beat_ = beat;
    }
  }
}

void IoWatchdog::record(std::string_view task, std::chrono::microseconds held) {
  ++stats_.stalls;
  if (held > stats_.longest) {
    stats_.longest = held;
    stats_.longest_task = std::string(task);
  }
  auto it = stats_.tasks.find(task);
  if (it == stats_.tasks.end()) it = stats_.tasks.emplace(std::string(task), IoTaskStalls{}).first;
  ++it->second.stalls;
  it->second.longest = std::max(it->second.longest, held);
  it->second.total += held;
  if (log_) log_(task, held);
}

std::uint64_t IoWatchdog::set_name(std::string_view kind, std::string_view name) {
  std::array<char, kIoTaskNameMax + 1> next{};
  std::size_t n = std::min(kind.size(), kIoTaskNameMax);
  std::memcpy(next.data(), kind.data(), n);
  if (!name.empty() && n < kIoTaskNameMax) {
    next[n++] = ' ';
    const std::size_t m = std::min(name.size(), kIoTaskNameMax - n);
    std::memcpy(next.data() + n, name.data(), m);
  }
  std::lock_guard lock(mutex_);
  name_ = next;
  return ++name_id_;
}

void IoWatchdog::clear_name(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (name_id_ == id) name_[0] = '\0';
}

IoWatchdog::Scope::Scope(IoWatchdog* w, std::string_view kind, std::string_view name) : watchdog_(w) {
  if (watchdog_) id_ = watchdog_->set_name(kind, name);
}

IoWatchdog::Scope::~Scope() {
  if (watchdog_) watchdog_->clear_name(id_);
}

IoWatchdog::Scope IoWatchdog::scope_here(std::string_view kind, std::string_view name) {
  return Scope(this_thread_watchdog, kind, name);
}

}  // namespace cheese::io
