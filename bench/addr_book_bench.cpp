// cheese-bench-addrbook: the address manager (daemon/net/addr_book.hpp) at its size bound.
//   cheese-bench-addrbook [--sources N] [--per-source N]
// Fills a book from N sources (each its own /16) with distinct addresses in many /16s, then
// measures: the heap the full book holds (mallinfo2), add, select (as the dial loop calls it),
// sample_for (a getaddr reply), save and load of peers.json. Times are CPU time of this thread.
#include <fmt/format.h>
#include <malloc.h>
#include <time.h>

#include <unistd.h>
#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "daemon/net/addr_book.hpp"

using namespace cheese;

namespace {

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::size_t heap_bytes() { return mallinfo2().uordblks; }

net::NetAddress address(std::uint32_t source, std::uint32_t i) {
  return net::NetAddress::from_ipv4({static_cast<std::uint8_t>(1 + i % 200), static_cast<std::uint8_t>(source),
                                     static_cast<std::uint8_t>(source >> 8), static_cast<std::uint8_t>(i / 200)},
                                    8433);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t sources = 400;
  std::uint32_t per_source = 250;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--sources") sources = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    if (arg == "--per-source") per_source = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
  }
  constexpr std::int64_t now = 1'700'000'000;
  const std::size_t heap0 = heap_bytes();
  AddressBook book;
  double t0 = cpu_seconds();
  std::size_t adds = 0;
  for (std::uint32_t s = 0; s < sources; ++s) {
    const auto from = net::NetAddress::from_ipv4(
        {200, static_cast<std::uint8_t>(s), static_cast<std::uint8_t>(s >> 8), 1}, 8433);
    for (std::uint32_t i = 0; i < per_source; ++i, ++adds) book.add(address(s, i), "gossip", from, now);
  }
  for (std::uint32_t i = 0; i < 8'000; ++i, ++adds) book.mark_success(address(i % sources, i), now);
  const double fill = cpu_seconds() - t0;
  const std::size_t heap = heap_bytes() - heap0;
  fmt::print("== Address book: {} adds from {} sources, 8,000 handshakes\n", adds, sources);
  fmt::print("  entries {} (new {}, tried {}; bound {})\n", book.size(), book.new_count(), book.tried_count(),
             kMaxAddrBookEntries);
  fmt::print("  heap held {:.2f} MiB ({:.0f} bytes per entry)\n", static_cast<double>(heap) / (1 << 20),
             static_cast<double>(heap) / static_cast<double>(book.size()));
  fmt::print("  add/mark_success {:.2f} us each\n", fill / static_cast<double>(adds) * 1e6);

  std::mt19937_64 rng(1);
  std::set<std::string> exclude;
  for (std::uint32_t i = 0; i < 100; ++i) exclude.insert(address(i, i).to_string());
  t0 = cpu_seconds();
  constexpr int kSelects = 200;
  for (int i = 0; i < kSelects; ++i) (void)book.select(exclude, now + 3'600, rng);
  fmt::print("  select {:.3f} ms each (100 excluded)\n", (cpu_seconds() - t0) / kSelects * 1e3);
  t0 = cpu_seconds();
  std::size_t sampled = 0;
  for (int i = 0; i < 20; ++i) sampled = book.sample_for(address(7, 7), 1'000, 3, now, rng).size();
  fmt::print("  sample_for {:.3f} ms each ({} addresses)\n", (cpu_seconds() - t0) / 20 * 1e3, sampled);

  const auto file = std::filesystem::temp_directory_path() / fmt::format("cheese-bench-peers-{}.json", ::getpid());
  t0 = cpu_seconds();
  book.save(file);
  const double save = cpu_seconds() - t0;
  AddressBook loaded;
  t0 = cpu_seconds();
  loaded.load(file);
  const double load = cpu_seconds() - t0;
  fmt::print("  peers.json {:.2f} MiB: save {:.1f} ms, load {:.1f} ms ({} entries back)\n",
             static_cast<double>(std::filesystem::file_size(file)) / (1 << 20), save * 1e3, load * 1e3,
             loaded.size());
  std::filesystem::remove(file);
  return 0;
}
