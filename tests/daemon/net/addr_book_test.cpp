// AddressBook, as it behaves today: what a gossiping peer can make us remember (kMaxAddrBookEntries
// at most; the entry that failed most, else the oldest, makes room), when an address is dialled
// again (exponential backoff in select()), and peers.json (saved with mode 0600, read back
// unchanged; an unreadable file gives an empty book). Time is passed in by hand.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "chain/chain_test_util.hpp"
#include "daemon/net/addr_book.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

constexpr std::int64_t kT = 1'700'000'000;

//! A distinct public-looking IPv4 address per number.
net::NetAddress addr_n(std::uint32_t n, std::uint16_t port = 8433) {
  return net::NetAddress::from_ipv4(
      {11, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)},
      port);
}

//! Every entry's ip:port.
std::set<std::string> keys_of(const AddressBook& book) {
  std::mt19937_64 rng(1);
  std::set<std::string> out;
  for (const auto& a : book.sample(book.size() + 1, rng)) out.insert(a.to_string());
  return out;
}

//! select()'s pick as ip:port ("" for none).
std::string pick(const AddressBook& book, const std::set<std::string>& exclude, std::int64_t now,
                 std::mt19937_64& rng) {
  const auto a = book.select(exclude, now, rng);
  return a ? a->to_string() : "";
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("an address is kept once, port 0 and unspecified addresses are not kept", "[daemon][net][addr_book]") {
  AddressBook book;
  book.add(addr_n(1), "gossip", kT);
  book.add(addr_n(1), "tracker", kT + 5);
  book.add(addr_n(1, 8434), "gossip", kT);  // another port is another entry
  book.add(addr_n(2, 0), "gossip", kT);
  book.add(net::NetAddress::from_ipv4({0, 0, 0, 0}, 8433), "gossip", kT);
  book.add(*net::NetAddress::parse_ip("::", 8433), "gossip", kT);
  CHECK(book.size() == 2);
  CHECK(keys_of(book) == std::set<std::string>{"11.0.0.1:8433", "11.0.0.1:8434"});
  book.remove(addr_n(1));
  CHECK(keys_of(book) == std::set<std::string>{"11.0.0.1:8434"});
}

TEST_CASE("the book holds kMaxAddrBookEntries, a new address then evicts the one that failed most",
          "[daemon][net][addr_book]") {
  AddressBook book;
  std::uint32_t n = 0;
  for (; n < kMaxAddrBookEntries; ++n) book.add(addr_n(n), "gossip", kT);
  REQUIRE(book.size() == kMaxAddrBookEntries);
  // Known addresses do not grow it.
  book.add(addr_n(17), "gossip", kT + 1);
  CHECK(book.size() == kMaxAddrBookEntries);

  SECTION("the most failures first") {
    book.mark_attempt(addr_n(500), kT);
    book.mark_attempt(addr_n(500), kT + 10);
    book.mark_attempt(addr_n(900), kT);
    book.add(addr_n(n), "gossip", kT + 20);
    CHECK(book.size() == kMaxAddrBookEntries);
    const auto keys = keys_of(book);
    CHECK_FALSE(keys.contains(addr_n(500).to_string()));
    CHECK(keys.contains(addr_n(900).to_string()));
    CHECK(keys.contains(addr_n(n).to_string()));
    book.add(addr_n(n + 1), "gossip", kT + 21);
    CHECK_FALSE(keys_of(book).contains(addr_n(900).to_string()));
  }
  SECTION("no failures: the oldest") {
    net::NetAddress old = addr_n(42);
    old.time = kT - 1000;  // re-adding keeps the newer time, so take a fresh book entry instead
    book.remove(addr_n(42));
    book.add(old, "gossip", kT);
    book.add(addr_n(n), "gossip", kT + 20);
    CHECK(book.size() == kMaxAddrBookEntries);
    CHECK_FALSE(keys_of(book).contains(old.to_string()));
    CHECK(keys_of(book).contains(addr_n(n).to_string()));
  }
}

TEST_CASE("select(): an address that failed waits 2^failures seconds (at most 600) since the last try",
          "[daemon][net][addr_book]") {
  std::mt19937_64 rng(7);
  AddressBook book;
  const auto a = addr_n(1);
  book.add(a, "tracker", kT);
  CHECK(pick(book, {}, kT, rng) == a.to_string());
  CHECK(pick(book, {a.to_string()}, kT, rng).empty());

  book.mark_attempt(a, kT);  // 1 failure: 2 s
  CHECK(pick(book, {}, kT + 1, rng).empty());
  CHECK(pick(book, {}, kT + 2, rng) == a.to_string());
  book.mark_attempt(a, kT + 2);  // 2 failures: 4 s
  CHECK(pick(book, {}, kT + 5, rng).empty());
  CHECK(pick(book, {}, kT + 6, rng) == a.to_string());

  for (int i = 0; i < 8; ++i) book.mark_attempt(a, kT + 100);  // 10 failures: 1024 s, capped at 600
  CHECK(pick(book, {}, kT + 100 + 599, rng).empty());
  CHECK(pick(book, {}, kT + 100 + 600, rng) == a.to_string());
  for (int i = 0; i < 20; ++i) book.mark_attempt(a, kT + 1000);  // many more: still 600
  CHECK(pick(book, {}, kT + 1000 + 599, rng).empty());
  CHECK(pick(book, {}, kT + 1000 + 600, rng) == a.to_string());

  book.mark_success(a, kT + 1001);  // a success clears the backoff
  CHECK(pick(book, {}, kT + 1001, rng) == a.to_string());
}

TEST_CASE("select() picks only among the addresses ready and not excluded", "[daemon][net][addr_book]") {
  std::mt19937_64 rng(3);
  AddressBook book;
  for (std::uint32_t i = 0; i < 4; ++i) book.add(addr_n(i), "gossip", kT);
  book.mark_attempt(addr_n(0), kT);
  book.mark_attempt(addr_n(1), kT);
  const std::set<std::string> exclude{addr_n(2).to_string()};
  for (int i = 0; i < 50; ++i) CHECK(pick(book, exclude, kT + 1, rng) == addr_n(3).to_string());
  CHECK(pick(book, {addr_n(2).to_string(), addr_n(3).to_string()}, kT + 1, rng).empty());
  CHECK(pick(AddressBook{}, {}, kT, rng).empty());
}

TEST_CASE("peers.json: saved with mode 0600 and read back unchanged", "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  AddressBook book;
  book.add(addr_n(1), "tracker", kT);
  net::NetAddress dated = addr_n(2, 9000);
  dated.time = kT - 50;
  book.add(dated, "gossip", kT);
  book.add(*net::NetAddress::parse_endpoint("[2001:db8::7]:8433", 0), "addnode", kT + 1);
  book.mark_success(addr_n(1), kT + 3);

  SECTION("a fresh file") {
    book.save(file);
    CHECK(mode_of(file) == 0600);
  }
  SECTION("replacing a world-readable file") {
    write_text(file, "[]");
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                           std::filesystem::perms::group_read | std::filesystem::perms::others_read);
    REQUIRE(mode_of(file) == 0644);
    book.save(file);
    CHECK(mode_of(file) == 0600);
  }
  CHECK_FALSE(std::filesystem::exists(file.string() + ".tmp"));

  AddressBook loaded;
  loaded.load(file);
  CHECK(loaded.size() == 3);
  CHECK(keys_of(loaded) == keys_of(book));
  // Saving what was loaded writes the same file: addr, time, last_success and source survive.
  const auto again = dir.file("again.json");
  loaded.save(again);
  CHECK(read_text(again) == read_text(file));
  CHECK_THAT(read_text(file), Catch::Contains("\"time\":" + std::to_string(kT - 50)));
  CHECK_THAT(read_text(file), Catch::Contains("\"last_success\":" + std::to_string(kT + 3)));
  CHECK_THAT(read_text(file), Catch::Contains("\"source\":\"addnode\""));
}

TEST_CASE("failures are saved: a restarted node keeps backing off from a failing address",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  std::mt19937_64 rng(1);
  AddressBook book;
  book.add(addr_n(1), "gossip", kT);
  for (int i = 0; i < 5; ++i) book.mark_attempt(addr_n(1), kT);
  REQUIRE(pick(book, {}, kT + 1, rng).empty());
  book.save(file);
  AddressBook loaded;
  loaded.load(file);
  CHECK(pick(loaded, {}, kT + 1, rng).empty());  // still backing off (2^5 s after the last try)
  CHECK(pick(loaded, {}, kT + 32, rng) == addr_n(1).to_string());
}

TEST_CASE("an unreadable or missing peers.json gives an empty book, bad entries are skipped",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  AddressBook book;
  SECTION("missing") { book.load(file); }
  SECTION("not JSON") {
    write_text(file, "{\"addr\": \"1.2.3.4:5\"");  // truncated
    book.load(file);
  }
  SECTION("JSON, not an array") {
    write_text(file, R"({"addr":"11.0.0.1:8433"})");
    book.load(file);
  }
  SECTION("binary") {
    write_text(file, std::string("\x00\xff\xfe[", 4));
    book.load(file);
  }
  SECTION("a directory") {
    std::filesystem::create_directory(file);
    book.load(file);
  }
  CHECK(book.size() == 0);

  SECTION("bad entries among good ones") {
    write_text(file, R"([1, "x", {"addr": 5}, {"addr": "host.example:8433"}, {"addr": "11.0.0.1"},
                        {"addr": "11.0.0.2:8433", "time": "soon"}, {"addr": "11.0.0.3:8433", "source": "tracker"}])");
    AddressBook some;
    some.load(file);
    CHECK(keys_of(some) == std::set<std::string>{"11.0.0.2:8433", "11.0.0.3:8433"});
  }
}

TEST_CASE("loading a peers.json of more than kMaxAddrBookEntries keeps kMaxAddrBookEntries",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  std::string text = "[";
  for (std::uint32_t i = 0; i < kMaxAddrBookEntries + 5; ++i) {
    if (i) text += ",";
    text += R"({"addr":")" + addr_n(i).to_string() + R"(","time":1})";
  }
  text += "]";
  write_text(file, text);
  AddressBook book;
  book.load(file);
  CHECK(book.size() == kMaxAddrBookEntries);
}
