// cheesed: the cheesechain node.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "daemon/node/node.hpp"
#include "daemon/node/options.hpp"
#include "util/log.hpp"

using namespace cheese;

namespace {

constexpr const char* kVersion = "cheesed 0.1.0";

//! Holds an exclusive lock on <datadir>/.lock for the process lifetime.
int lock_data_dir(const std::filesystem::path& dir) {
  const auto path = dir / ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -2;
  }
  return fd;
}

//! Process-wide settings made before anything is opened.
void prepare_process() {
  // A file-size limit (ulimit -f) then fails the write with EFBIG, which the node reports and
  // stops on like a full disk, instead of the signal killing it in the middle of a write.
  std::signal(SIGXFSZ, SIG_IGN);
  // Everything the node writes (logs, cookie, databases, peers.json, wallets) is private to its
  // user, whatever the caller's umask (as bitcoind does).
  ::umask(077);
}

}  // namespace

int main(int argc, char** argv) {
  prepare_process();
  NodeOptions options;
  bool help = false;
  bool version = false;
  if (auto err = parse_node_options(argc, argv, options, help, version)) {
    std::fprintf(stderr, "Error: %s\n", err->c_str());
    return 1;
  }
  if (version) {
    std::printf("%s\n", kVersion);
    return 0;
  }
  if (help) {
    Args args(node_option_specs());
    std::printf("%s\n\nUsage: cheesed [options]\n\nOptions:\n%s", kVersion, args.help_text().c_str());
    return 0;
  }

  std::error_code ec;
  std::filesystem::create_directories(options.datadir, ec);
  if (ec) {
    std::fprintf(stderr, "Error: cannot create data directory %s: %s\n", options.datadir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  const int lock = lock_data_dir(options.datadir);
  if (lock == -2) {
    std::fprintf(stderr, "Error: data directory %s is in use by another cheesed (lock file %s)\n",
                 options.datadir.c_str(), (options.datadir / ".lock").c_str());
    return 1;
  }
  if (lock < 0) {
    std::fprintf(stderr, "Error: cannot create lock file in %s\n", options.datadir.c_str());
    return 1;
  }

  if (options.daemon) {
    // Fork before any thread exists; the child keeps the lock (flock survives fork).
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::fprintf(stderr, "Error: fork failed\n");
      return 1;
    }
    if (pid > 0) return 0;
    ::setsid();
    const int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      if (devnull > 2) ::close(devnull);
    }
    options.print_to_console = false;
  }

  Logger::instance().open(options.datadir / "debug.log", options.print_to_console);
  for (const auto& c : options.debug) Logger::instance().enable_category(c);
  log_info("{} starting on {} (data directory {})", kVersion, options.params->name, options.datadir.string());
  {
    std::ofstream pid(options.pid_file);
    pid << ::getpid() << "\n";
  }

  int rc = 0;
  try {
    Node node(options);
    rc = node.run();
  } catch (const std::exception& e) {
    log_info("Error: {}", e.what());
    if (!options.daemon) std::fprintf(stderr, "Error: %s\n", e.what());
    rc = 1;
  }
  std::filesystem::remove(options.pid_file, ec);
  Logger::instance().close();
  return rc;
}
