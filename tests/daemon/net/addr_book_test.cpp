// AddressBook, the address manager (daemon/net/addr_book.hpp): new and tried tables bucketed by a
// secret key, so one source group fills a bounded share and pushes out nobody else's entries;
// timestamps clamped; Core's "terrible" rules; select() over both tables; getaddr samples;
// peers.json (version 2 with the key, version 1 still read, damaged files give an empty book).
// Time is passed in by hand; books get a fixed key so every test is deterministic.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
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
constexpr std::int64_t kDay = 86'400;

AddressBook::Key test_key(std::uint8_t seed) {
  AddressBook::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return k;
}

//! A distinct public-looking IPv4 address per number (all in 11.0.0.0/16 below 65,536).
net::NetAddress addr_n(std::uint32_t n, std::uint16_t port = 8433) {
  return net::NetAddress::from_ipv4(
      {11, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)},
      port);
}

net::NetAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port = 8433) {
  return net::NetAddress::from_ipv4({a, b, c, d}, port);
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

//! The first addr_n(i), i in [first, first + 20,000), whose slot (by `slot_of`) equals `slot`.
template <typename SlotOf>
std::optional<net::NetAddress> colliding(std::size_t slot, std::uint32_t first, SlotOf slot_of) {
  for (std::uint32_t i = first; i < first + 20'000; ++i) {
    if (slot_of(addr_n(i)) == slot) return addr_n(i);
  }
  return std::nullopt;
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
  AddressBook book(test_key(1));
  CHECK(book.add(addr_n(1), "gossip", kT));
  CHECK_FALSE(book.add(addr_n(1), "tracker", kT + 5));
  CHECK(book.add(addr_n(1, 8434), "gossip", kT));  // another port is another entry
  CHECK_FALSE(book.add(addr_n(2, 0), "gossip", kT));
  CHECK_FALSE(book.add(v4(0, 0, 0, 0), "gossip", kT));
  CHECK_FALSE(book.add(*net::NetAddress::parse_ip("::", 8433), "gossip", kT));
  CHECK(book.size() == 2);
  CHECK(keys_of(book) == std::set<std::string>{"11.0.0.1:8433", "11.0.0.1:8434"});
  CHECK(book.find(addr_n(1))->addr.time == kT + 5);  // the newer time is kept
  book.remove(addr_n(1));
  CHECK(keys_of(book) == std::set<std::string>{"11.0.0.1:8434"});
  CHECK(book.consistent());
}

TEST_CASE("the attack: 10,000 addresses from one source group take a bounded share and push out no honest entry",
          "[daemon][net][addr_book]") {
  // Before the tables, one connection's flood pushed out every honest entry (newest first) and a
  // getaddr reply was then all the attacker's. Now a source group reaches
  // kAddrNewBucketsPerSourceGroup buckets, and a taken slot is only given up by a terrible entry.
  AddressBook book(test_key(2));
  std::set<std::string> honest;
  for (std::uint8_t k = 0; k < 20; ++k) {  // 20 honest sources, each in its own /16
    const auto source = v4(21, k, 0, 1);
    for (std::uint32_t i = 0; i < 200; ++i) {
      const auto a = v4(static_cast<std::uint8_t>(30 + i % 100), k, static_cast<std::uint8_t>(i / 100), 9);
      if (book.add(a, "gossip", source, kT)) honest.insert(a.to_string());
    }
  }
  REQUIRE(honest.size() > 3'000);                                               // some collide with each other
  book.mark_success(*net::NetAddress::parse_endpoint(*honest.begin(), 0), kT);  // one is also tried
  REQUIRE(book.size() == honest.size());

  // The attacker: one source, 10,000 distinct addresses in 10,000 distinct /16s (its best case).
  const auto attacker = v4(66, 66, 0, 1);
  std::set<std::string> flood;
  for (std::uint32_t i = 0; i < 10'000; ++i) {
    const auto a = v4(static_cast<std::uint8_t>(100 + i % 100), static_cast<std::uint8_t>(i / 100), 0, 1);
    flood.insert(a.to_string());
    book.add(a, "gossip", attacker, kT + 1);
  }
  for (const auto& h : honest) CHECK(book.find(*net::NetAddress::parse_endpoint(h, 0)));
  std::size_t stored = 0;
  for (const auto& key : keys_of(book)) stored += flood.contains(key) ? 1U : 0U;
  CHECK(stored == book.size() - honest.size());
  CHECK(stored <= kAddrNewBucketsPerSourceGroup * kAddrBucketSize);  // 1,024 at most
  CHECK(stored > 500);                                               // but it was a real flood
  CHECK(book.tried_count() == 1);
  CHECK(book.consistent());

  // A getaddr reply is mostly honest.
  std::mt19937_64 rng(5);
  const auto reply = book.sample_for(v4(99, 0, 0, 1), 1'000, 3, kT + 2, rng);
  REQUIRE(reply.size() == book.size() * kGetAddrMaxPercent / 100);
  std::size_t honest_in_reply = 0;
  for (const auto& a : reply) honest_in_reply += honest.contains(a.to_string()) ? 1U : 0U;
  CHECK(honest_in_reply * 4 >= reply.size() * 3);  // three quarters at least

  // Addresses all in one /16 from one source: one bucket.
  AddressBook narrow(test_key(3));
  for (std::uint32_t i = 0; i < 10'000; ++i) narrow.add(addr_n(i), "gossip", attacker, kT);
  CHECK(narrow.size() <= kAddrBucketSize);
}

TEST_CASE("the book never holds more than kMaxAddrBookEntries (every slot of both tables)",
          "[daemon][net][addr_book]") {
  AddressBook book(test_key(4));
  for (std::uint32_t s = 0; s < 200; ++s) {
    const auto source = v4(22, static_cast<std::uint8_t>(s), 0, 1);
    for (std::uint32_t i = 0; i < 200; ++i) {
      book.add(v4(static_cast<std::uint8_t>(40 + i), static_cast<std::uint8_t>(s), 1, 1), "gossip", source, kT);
    }
  }
  for (std::uint32_t i = 0; i < 6'000; ++i)
    book.mark_success(v4(23, static_cast<std::uint8_t>(i % 256), static_cast<std::uint8_t>(i / 256), 1), kT);
  CHECK(book.new_count() <= kAddrNewBucketCount * kAddrBucketSize);
  CHECK(book.tried_count() <= kAddrTriedBucketCount * kAddrBucketSize);
  CHECK(book.size() <= kMaxAddrBookEntries);
  CHECK(book.new_count() > 10'000);  // the new table did fill up for real
  CHECK(book.consistent());
}

TEST_CASE("timestamps: from the future set to 5 days ago, relayed ones 2 h older", "[daemon][net][addr_book]") {
  AddressBook book(test_key(5));
  const auto relay = v4(24, 0, 0, 1);
  auto at = [](net::NetAddress a, std::int64_t t) {
    a.time = t;
    return a;
  };
  book.add(at(addr_n(1), kT + kAddrMaxFutureDrift), "inbound", kT);  // at the bound: kept
  book.add(at(addr_n(2), kT + kAddrMaxFutureDrift + 1), "inbound", kT);
  book.add(at(addr_n(3), 0), "inbound", kT);  // no time: now
  book.add(at(addr_n(4), kT - 100), "gossip", relay, kT);
  book.add(at(addr_n(5), kT + 10 * kDay), "gossip", relay, kT);
  CHECK(book.find(addr_n(1))->addr.time == kT + kAddrMaxFutureDrift);
  CHECK(book.find(addr_n(2))->addr.time == kT - kAddrFutureAge);
  CHECK(book.find(addr_n(3))->addr.time == kT);
  CHECK(book.find(addr_n(4))->addr.time == kT - 100 - kAddrRelayPenalty);
  CHECK(book.find(addr_n(5))->addr.time == kT - kAddrFutureAge - kAddrRelayPenalty);
  // Before 1973 or negative (INT64_MIN would overflow with the penalty): as from the future.
  book.add(at(addr_n(6), kAddrMinTime - 1), "inbound", kT);
  book.add(at(addr_n(7), INT64_MIN), "gossip", relay, kT);
  book.add(at(addr_n(8), kAddrMinTime), "inbound", kT);
  CHECK(book.find(addr_n(6))->addr.time == kT - kAddrFutureAge);
  CHECK(book.find(addr_n(7))->addr.time == kT - kAddrFutureAge - kAddrRelayPenalty);
  CHECK(book.find(addr_n(8))->addr.time == kAddrMinTime);
  // A future time sent again cannot move an entry forward either.
  book.add(at(addr_n(4), kT + kDay), "gossip", relay, kT);
  CHECK(book.find(addr_n(4))->addr.time == kT - 100 - kAddrRelayPenalty);
}

TEST_CASE("is_terrible: Bitcoin Core's rules", "[daemon][net][addr_book]") {
  AddressBook::Entry e;
  e.addr = addr_n(1);
  e.addr.time = kT - kDay;
  CHECK_FALSE(AddressBook::is_terrible(e, kT));
  e.addr.time = kT + kAddrMaxFutureDrift + 1;
  CHECK(AddressBook::is_terrible(e, kT));  // from the future
  e.addr.time = kT - kAddrHorizon - 1;
  CHECK(AddressBook::is_terrible(e, kT));  // older than 30 days
  e.addr.time = kT - kDay;
  e.failures = kAddrRetries;
  CHECK(AddressBook::is_terrible(e, kT));  // 3 failures, never a success
  e.last_try = kT - kAddrRecentTry + 1;
  CHECK_FALSE(AddressBook::is_terrible(e, kT));  // ...but tried in the last minute: not yet
  e.last_try = kT - 3'600;
  e.last_success = kT - 2 * kDay;
  CHECK_FALSE(AddressBook::is_terrible(e, kT));  // it worked once
  e.failures = kAddrMaxFailures;
  CHECK_FALSE(AddressBook::is_terrible(e, kT));  // 10 failures, but a success within 7 days
  e.last_success = kT - kAddrMinFailWindow - 1;
  CHECK(AddressBook::is_terrible(e, kT));
  e.failures = kAddrMaxFailures - 1;
  CHECK_FALSE(AddressBook::is_terrible(e, kT));
}

TEST_CASE("a taken new slot is given up only by a terrible entry", "[daemon][net][addr_book]") {
  AddressBook book(test_key(6));
  const auto source = v4(25, 0, 0, 1);
  const auto victim = addr_n(1);
  const auto other = colliding(book.new_slot(victim, source), 2,
                               [&](const auto& a) { return book.new_slot(a, source); });
  REQUIRE(other);
  REQUIRE(book.add(victim, "gossip", source, kT));

  SECTION("a healthy entry stays, the newcomer is dropped") {
    CHECK_FALSE(book.add(*other, "gossip", source, kT + 10));
    CHECK(book.find(victim));
    CHECK_FALSE(book.find(*other));
  }
  SECTION("three failed dials and no success: replaced") {
    for (int i = 0; i < kAddrRetries; ++i) book.mark_attempt(victim, kT);
    CHECK(book.add(*other, "gossip", source, kT + kAddrRecentTry));
    CHECK_FALSE(book.find(victim));
    CHECK(book.find(*other));
  }
  SECTION("older than 30 days: replaced") {
    CHECK(book.add(*other, "gossip", source, kT + kAddrHorizon + kAddrRelayPenalty + 1));
    CHECK_FALSE(book.find(victim));
  }
  CHECK(book.size() == 1);
  CHECK(book.consistent());
}

TEST_CASE("mark_success moves an entry to tried; a tried collision sends the old one back to new",
          "[daemon][net][addr_book]") {
  AddressBook book(test_key(7));
  const auto a = addr_n(1);
  book.add(a, "gossip", v4(26, 0, 0, 1), kT);
  REQUIRE(book.new_count() == 1);
  book.mark_attempt(a, kT);
  book.mark_success(a, kT + 5);
  auto e = book.find(a);
  REQUIRE(e);
  CHECK(e->tried);
  CHECK(e->new_refs == 0);
  CHECK(e->failures == 0);
  CHECK(e->last_success == kT + 5);
  CHECK(book.tried_count() == 1);
  CHECK(book.new_count() == 0);
  book.add(a, "gossip", v4(27, 0, 0, 1), kT + 6);  // heard of again: stays in tried only
  CHECK(book.find(a)->new_refs == 0);
  CHECK(book.new_count() == 0);

  const auto b = colliding(book.tried_slot(a), 2, [&](const auto& x) { return book.tried_slot(x); });
  REQUIRE(b);
  book.mark_success(*b, kT + 10);  // unknown until now: added straight to tried
  CHECK(book.find(*b)->tried);
  e = book.find(a);
  REQUIRE(e);
  CHECK_FALSE(e->tried);
  CHECK(e->new_refs == 1);
  CHECK(book.tried_count() == 1);
  CHECK(book.new_count() == 1);
  CHECK(book.consistent());
}

TEST_CASE("select(): an address that failed waits 2^failures seconds (at most 600) since the last try",
          "[daemon][net][addr_book]") {
  std::mt19937_64 rng(7);
  AddressBook book(test_key(8));
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

TEST_CASE("select() never returns an excluded address; new_only picks from the new table",
          "[daemon][net][addr_book]") {
  std::mt19937_64 rng(3);
  AddressBook book(test_key(9));
  for (std::uint8_t i = 0; i < 8; ++i) book.add(v4(28, i, 0, 1), "gossip", v4(29, i, 0, 1), kT);
  for (std::uint8_t i = 0; i < 4; ++i) book.mark_success(v4(28, i, 0, 1), kT);
  REQUIRE(book.tried_count() == 4);
  REQUIRE(book.new_count() == 4);
  const std::set<std::string> exclude{v4(28, 0, 0, 1).to_string(), v4(28, 5, 0, 1).to_string()};
  std::map<std::string, int> seen;
  for (int i = 0; i < 400; ++i) {
    const auto got = pick(book, exclude, kT + 700, rng);
    REQUIRE_FALSE(got.empty());
    CHECK_FALSE(exclude.contains(got));
    seen[got] += 1;
  }
  CHECK(seen.size() == 6);  // every other address comes up
  int from_tried = 0;
  for (std::uint8_t i = 1; i < 4; ++i) from_tried += seen[v4(28, i, 0, 1).to_string()];
  CHECK(from_tried > 120);  // half the picks go to tried (3 of its 4 entries allowed)
  CHECK(from_tried < 280);

  for (int i = 0; i < 100; ++i) {
    const auto a = book.select(exclude, kT + 700, rng, true);
    REQUIRE(a);
    CHECK_FALSE(book.find(*a)->tried);
    CHECK_FALSE(exclude.contains(a->to_string()));
  }
  // Only excluded or backing-off entries: nothing.
  std::set<std::string> all;
  for (std::uint8_t i = 0; i < 8; ++i) all.insert(v4(28, i, 0, 1).to_string());
  CHECK(pick(book, all, kT, rng).empty());
  CHECK_FALSE(book.select(all, kT, rng, true));
  CHECK(pick(AddressBook{}, {}, kT, rng).empty());
}

TEST_CASE("select() prefers addresses not tried in the last 10 minutes and with fewer failures",
          "[daemon][net][addr_book]") {
  std::mt19937_64 rng(11);
  AddressBook book(test_key(10));
  const auto fresh = v4(30, 1, 0, 1);
  const auto recent = v4(30, 2, 0, 1);
  book.add(fresh, "gossip", kT);
  book.add(recent, "gossip", kT);
  book.mark_attempt(recent, kT);  // one failure, 300 s ago: past its 2 s backoff, chance 0.66 %
  int fresh_picks = 0;
  for (int i = 0; i < 500; ++i) fresh_picks += pick(book, {}, kT + 300, rng) == fresh.to_string() ? 1 : 0;
  CHECK(fresh_picks > 450);
  CHECK(pick(book, {fresh.to_string()}, kT + 300, rng) == recent.to_string());  // still possible
}

TEST_CASE("getaddr samples: a bounded random share, never the asker, a dead or a terrible entry",
          "[daemon][net][addr_book]") {
  std::mt19937_64 rng(13);
  AddressBook book(test_key(11));
  for (std::uint32_t i = 0; i < 1'000; ++i) {
    book.add(v4(static_cast<std::uint8_t>(31 + i % 50), static_cast<std::uint8_t>(i / 50), 0, 1), "gossip",
             v4(static_cast<std::uint8_t>(31 + i % 50), static_cast<std::uint8_t>(i / 50), 0, 1), kT);
  }
  const std::size_t n = book.size();
  REQUIRE(n > 900);
  // Eligible: all but the asker's IP (two ports) and a dead and a terrible (30 days old) entry.
  const auto asker = v4(31, 0, 0, 1, 9000);
  book.add(v4(31, 0, 0, 1, 9001), "inbound", kT);
  const auto dead = v4(32, 0, 0, 1);
  for (int i = 0; i < 3; ++i) book.mark_attempt(dead, kT - 600);
  net::NetAddress old = v4(33, 200, 0, 1);
  old.time = kT - kAddrHorizon - 10;
  REQUIRE(book.add(old, "inbound", kT));
  const auto reply = book.sample_for(asker, 1'000, 3, kT, rng);
  CHECK(reply.size() == (n - 2) * kGetAddrMaxPercent / 100);
  std::set<std::string> got;
  for (const auto& a : reply) got.insert(a.to_string());
  CHECK(got.size() == reply.size());
  for (const auto& a : reply) {
    CHECK(a.ip != asker.ip);
    CHECK(a.to_string() != dead.to_string());
    CHECK(a.to_string() != old.to_string());
  }
  CHECK(book.sample_for(asker, 50, 3, kT, rng).size() == 50);  // `max` bounds it too
  const auto again = book.sample_for(asker, 1'000, 3, kT, rng);
  CHECK(std::set<std::string>(got) != [&] {
    std::set<std::string> s;
    for (const auto& a : again) s.insert(a.to_string());
    return s;
  }());  // random

  // A small book is shared whole (kGetAddrMinReply); on loopback only the asker's ip:port is out.
  AddressBook small(test_key(12));
  for (std::uint16_t p = 1; p <= 30; ++p)
    small.add(v4(127, 0, 0, 1, static_cast<std::uint16_t>(20000 + p)), "inbound", kT);
  const auto local = small.sample_for(v4(127, 0, 0, 1, 20001), 1'000, 3, kT, rng);
  CHECK(local.size() == small.size() - 1);
  for (const auto& a : local) CHECK(a.port != 20001);
}

TEST_CASE("peers.json: saved with mode 0600 and read back unchanged, key and tables included",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  AddressBook book(test_key(13));
  book.add(addr_n(1), "tracker", v4(34, 0, 0, 1), kT);
  net::NetAddress dated = addr_n(2, 9000);
  dated.time = kT - 50;
  dated.services = 1;
  book.add(dated, "gossip", v4(35, 0, 0, 1), kT);
  book.add(*net::NetAddress::parse_endpoint("[2001:db8::7]:8433", 0), "addnode", kT + 1);
  book.mark_success(addr_n(1), kT + 3);
  book.mark_attempt(addr_n(2, 9000), kT + 4);

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

  AddressBook loaded(test_key(99));  // the file's key replaces it
  loaded.load(file);
  CHECK(loaded.key() == book.key());
  CHECK(loaded.size() == 3);
  CHECK(keys_of(loaded) == keys_of(book));
  CHECK(loaded.tried_count() == 1);
  CHECK(loaded.find(addr_n(1))->tried);
  const auto d = loaded.find(dated);
  REQUIRE(d);
  CHECK(d->addr.time == kT - 50 - kAddrRelayPenalty);
  CHECK(d->addr.services == 1);
  CHECK(d->failures == 1);
  CHECK(d->from.to_string() == "35.0.0.1:8433");
  CHECK(loaded.consistent());
  // Saving what was loaded writes the same file.
  const auto again = dir.file("again.json");
  loaded.save(again);
  CHECK(read_text(again) == read_text(file));
  CHECK_THAT(read_text(file), Catch::Contains("\"version\":2"));
  CHECK_THAT(read_text(file), Catch::Contains("\"source\":\"addnode\""));
}

TEST_CASE("failures are saved: a restarted node keeps backing off from a failing address",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  std::mt19937_64 rng(1);
  AddressBook book(test_key(14));
  book.add(addr_n(1), "gossip", kT);
  for (int i = 0; i < 5; ++i) book.mark_attempt(addr_n(1), kT);
  REQUIRE(pick(book, {}, kT + 1, rng).empty());
  book.save(file);
  AddressBook loaded;
  loaded.load(file);
  CHECK(pick(loaded, {}, kT + 1, rng).empty());  // still backing off (2^5 s after the last try)
  CHECK(pick(loaded, {}, kT + 32, rng) == addr_n(1).to_string());
}

TEST_CASE("an edited peers.json cannot choose table positions", "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  AddressBook book(test_key(15));
  // 2,000 entries of one /16, all claiming to be tried: they get the tried slots the key gives
  // them (kAddrTriedBucketsPerGroup buckets of the group), the rest compete for new slots.
  std::string text = R"({"version":2,"key":")" + std::string(64, 'a') + R"(","entries":[)";
  for (std::uint32_t i = 0; i < 2'000; ++i) {
    if (i) text += ",";
    text += R"({"addr":")" + addr_n(i).to_string() + R"(","time":)" + std::to_string(kT) +
            R"(,"tried":true,"last_success":)" + std::to_string(kT) + "}";
  }
  text += "]}";
  write_text(file, text);
  book.load(file);
  CHECK(book.key() == AddressBook::Key{0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
                                       0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
                                       0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa});
  CHECK(book.tried_count() <= kAddrTriedBucketsPerGroup * kAddrBucketSize);
  CHECK(book.tried_count() > 100);
  CHECK(book.new_count() <= kAddrBucketSize);  // one source group, one address group: one bucket
  CHECK(book.consistent());

  SECTION("a bad key: the entries load, the book keeps its own key") {
    AddressBook other(test_key(16));
    write_text(file, R"({"version":2,"key":"zz","entries":[{"addr":"11.0.0.1:8433"}]})");
    other.load(file);
    CHECK(other.key() == test_key(16));
    CHECK(other.size() == 1);
  }
}

TEST_CASE("an unreadable or missing peers.json gives an empty book, bad entries are skipped",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  AddressBook book(test_key(17));
  SECTION("missing") {
    book.add(addr_n(7), "gossip", kT);  // load replaces what was there
    book.load(file);
  }
  SECTION("not JSON") {
    write_text(file, "{\"addr\": \"1.2.3.4:5\"");  // truncated
    book.load(file);
  }
  SECTION("JSON, neither an array nor a version 2 object") {
    write_text(file, R"({"addr":"11.0.0.1:8433"})");
    book.load(file);
  }
  SECTION("an unknown version") {
    write_text(file, R"({"version":3,"key":"","entries":[{"addr":"11.0.0.1:8433"}]})");
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
  SECTION("larger than kMaxPeersFileBytes") {
    write_text(file, "[" + std::string(kMaxPeersFileBytes, ' ') + "]");
    book.load(file);
  }
  CHECK(book.size() == 0);
  CHECK(book.key() == test_key(17));

  SECTION("bad entries among good ones") {
    write_text(file, R"([1, "x", {"addr": 5}, {"addr": "host.example:8433"}, {"addr": "11.0.0.1"},
                        {"addr": "0.0.0.0:8433"}, {"addr": "11.0.0.2:8433", "time": "soon", "failures": -4},
                        {"addr": "11.0.0.3:8433", "source": "tracker", "from": "nonsense", "time": 1e300},
                        {"addr": "11.0.0.4:8433", "time": 18446744073709551615, "services": -1}])");
    AddressBook some(test_key(21));
    some.load(file);
    CHECK(keys_of(some) == std::set<std::string>{"11.0.0.2:8433", "11.0.0.3:8433", "11.0.0.4:8433"});
    CHECK(some.find(addr_n(2))->failures == 0);
    CHECK(some.find(addr_n(3))->from.to_string() == "11.0.0.3:8433");
    CHECK(some.consistent());
  }
}

TEST_CASE("peers.json version 1 (a bare array) still loads; handshaked entries go to tried",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  write_text(file, R"([{"addr":"11.0.0.1:8433","time":1700000000,"last_success":1700000000,"source":"outbound",
                        "last_try":0,"failures":0},
                       {"addr":"11.0.0.2:9000","time":1699999950,"last_success":0,"source":"gossip",
                        "last_try":1700000004,"failures":2},
                       {"addr":"[2001:db8::7]:8433","time":1700000001,"last_success":0,"source":"addnode"}])");
  AddressBook book(test_key(19));
  book.load(file);
  CHECK(book.size() == 3);
  CHECK(book.tried_count() == 1);
  CHECK(book.find(addr_n(1))->tried);
  const auto e = book.find(addr_n(2, 9000));
  REQUIRE(e);
  CHECK(e->failures == 2);
  CHECK(e->last_try == 1'700'000'004);
  CHECK(e->source == "gossip");
  CHECK(book.key() == test_key(19));  // version 1 had no key: the book keeps its own
  CHECK(book.consistent());
  // Saved again, it is version 2.
  book.save(file);
  CHECK_THAT(read_text(file), Catch::Contains("\"version\":2"));
}

TEST_CASE("loading a version 1 peers.json of 25,000 entries keeps at most kMaxAddrBookEntries",
          "[daemon][net][addr_book]") {
  TempDir dir("addrbook");
  const auto file = dir.file("peers.json");
  std::string text = "[";
  for (std::uint32_t i = 0; i < 25'000; ++i) {
    if (i) text += ",";
    const auto a = v4(static_cast<std::uint8_t>(40 + i % 100), static_cast<std::uint8_t>(i / 100), 0, 1);
    text += R"({"addr":")" + a.to_string() + R"(","time":1,"last_success":)" + std::to_string(i % 3) + "}";
  }
  text += "]";
  write_text(file, text);
  AddressBook book(test_key(20));
  book.load(file);
  CHECK(book.size() <= kMaxAddrBookEntries);
  CHECK(book.tried_count() <= kAddrTriedBucketCount * kAddrBucketSize);
  CHECK(book.size() > 10'000);
  CHECK(book.consistent());
}

TEST_CASE("regtest: each IP is its own group, so a simulated network in one /16 fills the tables",
          "[daemon][net][addr_book]") {
  // 1,000 hosts of a simulator (10.77.0.0/16, as tests/netsim), all told us by its tracker.
  const auto sim = [](std::uint32_t i) {
    return net::NetAddress::from_ipv4(
        {10, 77, static_cast<std::uint8_t>(1 + i / 250), static_cast<std::uint8_t>(1 + i % 250)}, 28433);
  };
  const net::NetAddress tracker = net::NetAddress::from_ipv4({10, 77, 0, 2}, 9999);
  AddressBook one_group(test_key(5));
  AddressBook per_address(test_key(5));
  per_address.set_group_per_address(true);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    one_group.add(sim(i), "tracker", tracker, kT);
    per_address.add(sim(i), "tracker", tracker, kT);
  }
  // One address group from one source: one bucket.
  CHECK(one_group.size() <= kAddrBucketSize);
  // Per address: the 16 buckets of that source, 1,024 slots at random: 1,024 (1 - e^(-1000/1024)),
  // about 638, are expected to stay (a collision keeps the entry already there).
  CHECK(per_address.size() > 550);
  CHECK(per_address.consistent());
  // Loopback keeps ip:port groups either way (every local test node shares 127.0.0.1).
  AddressBook loop(test_key(5));
  loop.set_group_per_address(true);
  for (std::uint16_t p = 0; p < 200; ++p) {
    loop.add(net::NetAddress::from_ipv4({127, 0, 0, 1}, static_cast<std::uint16_t>(20000 + p)), "tracker",
             net::NetAddress::from_ipv4({127, 0, 0, 1}, 9999), kT);
  }
  CHECK(loop.size() > 150);
}
