#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace cheese {

//! The node's log: debug.log in the data directory and, with -printtoconsole, stdout.
//! Categories ("net", "rpc", "mempool", "validation", "tracker", "mining") are logged only when
//! enabled with -debug=<category> (or -debug=all); plain messages are always logged.
//! Thread-safe: worker threads may log.
class Logger {
 public:
  static Logger& instance();
  void open(const std::filesystem::path& file, bool console);
  void enable_category(std::string_view c);
  bool enabled(std::string_view category) const;
  void write(std::string_view category, std::string_view message);
  void close();

 private:
  mutable std::mutex mutex_;
  std::FILE* file_ = nullptr;
  bool console_ = false;
  bool all_ = false;
  std::set<std::string, std::less<>> categories_;
};

template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  Logger::instance().write({}, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void log_debug(std::string_view category, fmt::format_string<Args...> f, Args&&... args) {
  if (!Logger::instance().enabled(category)) return;
  Logger::instance().write(category, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace cheese
