// The address manager (daemon/net/addr_book.hpp) as a state machine. The input is a script
// (fuzz_input.hpp): a key byte, then up to 128 operations on one book over a pool of 32 addresses
// (four IPv4 /16s, loopback on several ports, IPv6, the unspecified addresses; ports 8433, 8434,
// 9000 and 0) and 8 sources: add (with a time now, in the past, in the future or raw), mark an
// attempt, a success, remove, select (with a fuzzed exclusion set, new table only or both),
// sample_for (a fuzzed asker, max and dead_failures), clock moves, save then load into another
// book, and load of fuzzed bytes as peers.json.
//
// Properties after every step: the tables, counts and entries agree (consistent()) and the book
// holds at most kMaxAddrBookEntries; an address added (true) or marked a success is found, in
// tried after a success; a removed one is gone; select returns a known address that is not
// excluded (from the new table with new_only) and something whenever an entry is ready; a sample
// has no duplicates, no entry at the asker (its ip:port on loopback, else its IP), none terrible
// or with dead_failures failures, and at most max entries; a reloaded book has the same key and
// only entries of the saved one, never more; fuzzed files load without a crash into a consistent
// book.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "daemon/net/addr_book.hpp"
#include "fuzz_check.hpp"
#include "fuzz_input.hpp"

using namespace cheese;
using namespace cheese::fuzz;

namespace {

constexpr std::int64_t kStart = 1'700'000'000;
constexpr std::uint16_t kPorts[] = {8433, 8434, 9000, 0};

net::NetAddress pool_address(std::size_t i, std::uint16_t port) {
  if (i < 20) {
    return net::NetAddress::from_ipv4({11, static_cast<std::uint8_t>(i % 4), 0, static_cast<std::uint8_t>(i)}, port);
  }
  if (i < 26) return net::NetAddress::from_ipv4({127, 0, 0, 1}, static_cast<std::uint16_t>(port + i));
  if (i < 30) return *net::NetAddress::parse_ip("2001:db8:0:" + std::to_string(i) + "::1", port);
  return i == 30 ? net::NetAddress::from_ipv4({0, 0, 0, 0}, port) : *net::NetAddress::parse_ip("::", port);
}

net::NetAddress any_address(FuzzInput& in) { return pool_address(in.pick(32), kPorts[in.pick(4)]); }

net::NetAddress source(FuzzInput& in) {
  const std::size_t s = in.pick(8);
  if (s < 4) return net::NetAddress::from_ipv4({21, static_cast<std::uint8_t>(s), 0, 1}, 8433);
  if (s < 7) return net::NetAddress::from_ipv4({127, 0, 0, 1}, static_cast<std::uint16_t>(40000 + s));
  return *net::NetAddress::parse_ip("2001:db8:ffff::1", 8433);
}

//! A scratch directory for peers.json, on /dev/shm when there is one (saving fsyncs).
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? "/dev/shm"
                                           : std::filesystem::temp_directory_path();
    path = base / ("cheese-fuzz-addrbook-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path, ec);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const std::filesystem::path& scratch() {
  static const ScratchDir dir;
  return dir.path;
}

std::int64_t fuzzed_time(FuzzInput& in, std::int64_t now) {
  switch (in.pick(4)) {
    case 0: return 0;
    case 1: return now - static_cast<std::int64_t>(in.range<std::uint32_t>(0, 40 * 86'400));
    case 2: return now + static_cast<std::int64_t>(in.range<std::uint32_t>(0, 86'400));
    default: return static_cast<std::int64_t>(in.integral<std::uint64_t>());
  }
}

void check_select(const AddressBook& book, FuzzInput& in, std::int64_t now, std::mt19937_64& rng) {
  std::set<std::string> exclude;
  const std::size_t n = in.pick(4);
  for (std::size_t i = 0; i < n; ++i) exclude.insert(any_address(in).to_string());
  const bool new_only = in.flag();
  const auto a = book.select(exclude, now, rng, new_only);
  if (!a) {
    // Nothing: every candidate is excluded or still waits out its backoff.
    std::mt19937_64 order(1);
    for (const auto& x : book.sample(book.size(), order)) {
      const auto e = book.find(x);
      if (new_only && e->tried) continue;
      const std::int64_t wait = std::min<std::int64_t>(kAddrMaxBackoff, std::int64_t{1} << std::min(e->failures, 30));
      FUZZ_CHECK(exclude.contains(x.to_string()) || (e->failures > 0 && now - e->last_try < wait));
    }
    return;
  }
  FUZZ_CHECK(!exclude.contains(a->to_string()));
  const auto e = book.find(*a);
  FUZZ_CHECK(e.has_value());
  FUZZ_CHECK(!new_only || !e->tried);
}

void check_sample(const AddressBook& book, FuzzInput& in, std::int64_t now, std::mt19937_64& rng) {
  const auto asker = any_address(in);
  const std::size_t max = in.range<std::size_t>(0, 40);
  const int dead = static_cast<int>(in.range<std::uint8_t>(1, 5));
  const auto got = book.sample_for(asker, max, dead, now, rng);
  FUZZ_CHECK(got.size() <= max);
  std::set<std::string> seen;
  for (const auto& a : got) {
    FUZZ_CHECK(seen.insert(a.to_string()).second);
    FUZZ_CHECK(asker.is_loopback() ? !a.same_endpoint(asker) : a.ip != asker.ip);
    const auto e = book.find(a);
    FUZZ_CHECK(e.has_value());
    FUZZ_CHECK(!AddressBook::is_terrible(*e, now) && e->failures < dead);
  }
}

void check_reload(const AddressBook& book) {
  const auto file = scratch() / "peers.json";
  book.save(file);
  AddressBook loaded;
  loaded.load(file);
  FUZZ_CHECK(loaded.key() == book.key());
  FUZZ_CHECK(loaded.size() <= book.size());
  FUZZ_CHECK(loaded.consistent());
  std::mt19937_64 rng(1);
  for (const auto& a : loaded.sample(loaded.size(), rng)) {
    const auto mine = book.find(a);
    FUZZ_CHECK(mine.has_value());
    const auto theirs = loaded.find(a);
    FUZZ_CHECK(theirs->failures == mine->failures && theirs->last_try == mine->last_try);
  }
}

void check_garbage(FuzzInput& in) {
  const auto file = scratch() / "garbage.json";
  const auto bytes = in.bytes(in.range<std::size_t>(0, 512));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  AddressBook book;
  book.load(file);
  FUZZ_CHECK(book.consistent());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  AddressBook::Key key{};
  key[0] = in.byte();
  AddressBook book(key);
  std::mt19937_64 rng(key[0]);
  std::int64_t now = kStart;
  for (int step = 0; step < 128 && !in.empty(); ++step) {
    switch (in.pick(10)) {
      case 0:
      case 1: {
        auto a = any_address(in);
        a.time = fuzzed_time(in, now);
        if (book.add(a, "gossip", source(in), now)) FUZZ_CHECK(book.find(a).has_value());
        break;
      }
      case 2: book.mark_attempt(any_address(in), now); break;
      case 3: {
        const auto a = any_address(in);
        book.mark_success(a, now);
        if (a.port != 0 && !a.is_unspecified()) FUZZ_CHECK(book.find(a) && book.find(a)->tried);
        break;
      }
      case 4: {
        const auto a = any_address(in);
        book.remove(a);
        FUZZ_CHECK(!book.find(a));
        break;
      }
      case 5: check_select(book, in, now, rng); break;
      case 6: check_sample(book, in, now, rng); break;
      case 7: now += static_cast<std::int64_t>(in.range<std::uint32_t>(0, 1u << 22)); break;
      case 8: check_reload(book); break;
      default: check_garbage(in); break;
    }
    FUZZ_CHECK(book.consistent());
    FUZZ_CHECK(book.size() <= kMaxAddrBookEntries);
  }
  return 0;
}
