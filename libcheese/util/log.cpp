#include "util/log.hpp"

#include <chrono>
#include <ctime>

#include <fmt/chrono.h>

namespace cheese {

Logger& Logger::instance() {
  static Logger logger;
  return logger;
}

void Logger::open(const std::filesystem::path& file, bool console) {
  std::lock_guard lock(mutex_);
  if (file_) std::fclose(file_);
  file_ = file.empty() ? nullptr : std::fopen(file.c_str(), "a");
  console_ = console;
}

void Logger::enable_category(std::string_view c) {
  std::lock_guard lock(mutex_);
  if (c == "all" || c == "1") {
    all_ = true;
  } else {
    categories_.emplace(c);
  }
}

bool Logger::enabled(std::string_view category) const {
  std::lock_guard lock(mutex_);
  return all_ || categories_.contains(category);
}

void Logger::write(std::string_view category, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const std::string line = category.empty() ? fmt::format("{:%Y-%m-%dT%H:%M:%SZ} {}\n", tm, message)
                                            : fmt::format("{:%Y-%m-%dT%H:%M:%SZ} [{}] {}\n", tm, category, message);
  std::lock_guard lock(mutex_);
  if (file_) {
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }
  if (console_) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
}

void Logger::close() {
  std::lock_guard lock(mutex_);
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

}  // namespace cheese
