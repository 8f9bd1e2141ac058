// cheese-tracker: tells cheesechain nodes which peers are online (docs/protocol.md section 8).
#include <coroutine>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>

#include "tracker_server.hpp"

using namespace cheese;
using namespace cheese::tracker;

namespace {

constexpr const char* kVersion = "cheese-tracker 0.1.0";

void print_line(std::string_view line) {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::fputs(fmt::format("{:%Y-%m-%dT%H:%M:%SZ} {}\n", now, line).c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  TrackerOptions options;
  bool help = false;
  if (auto err = parse_tracker_options(argc, argv, options, help)) {
    std::fprintf(stderr, "Error: %s\n", err->c_str());
    return 1;
  }
  if (help) {
    Args args(tracker_option_specs());
    std::printf("%s\n\nUsage: cheese-tracker [options]\n\nOptions:\n%s", kVersion, args.help_text().c_str());
    return 0;
  }
  asio::io_context io{1};
  Tracker tracker(io, options, options.print_to_console ? LogSink(print_line) : LogSink());
  try {
    tracker.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (options.print_to_console) print_line(fmt::format("received signal {}, shutting down", sig));
    tracker.stop();
  });
  io.run();
  return 0;
}
