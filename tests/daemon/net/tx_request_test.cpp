// TxRequestTracker: which announced transaction is asked of which peer. What a peer (honest or
// not) can observe: one getdata per transaction at a time; the next announcer, in announcement
// order, is asked when the one asked says notfound, leaves or times out; the per-peer and
// per-transaction bounds hold exactly at their values. Time is passed in by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "daemon/net/tx_request.hpp"

using namespace cheese;
using namespace std::chrono_literals;

namespace {

using Tracker = TxRequestTracker;
const Tracker::Clock::time_point kT0{std::chrono::hours(1)};

//! A distinct txid per number.
Hash256 txid_n(std::uint32_t n) {
  Hash256 h;
  h.bytes[0] = 0x7e;
  for (int i = 0; i < 4; ++i) h.bytes[1 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return h;
}

Tracker with_peers(std::initializer_list<PeerId> ids) {
  Tracker t;
  for (PeerId id : ids) t.add_peer(id);
  return t;
}

std::vector<Tracker::Request> sorted(std::vector<Tracker::Request> v) {
  std::sort(v.begin(), v.end(),
            [](const auto& a, const auto& b) { return std::tie(a.peer, a.txid) < std::tie(b.peer, b.txid); });
  return v;
}

}  // namespace

TEST_CASE("a transaction is asked of one peer at a time, the first to announce it", "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2, 3});
  const Hash256 tx = txid_n(1);
  CHECK(t.announced(1, tx, kT0));
  CHECK_FALSE(t.announced(2, tx, kT0));
  CHECK_FALSE(t.announced(3, tx, kT0 + 1s));
  CHECK_FALSE(t.announced(1, tx, kT0 + 2s));  // announcing again does not ask again
  CHECK(t.requested(tx));
  CHECK(t.size() == 1);
  CHECK(t.in_flight(1) == 1);
  CHECK(t.in_flight(2) == 0);
  CHECK(t.in_flight(3) == 0);
}

TEST_CASE("after notfound the other announcers are asked in announcement order, then it is forgotten",
          "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2, 3, 4});
  const Hash256 tx = txid_n(1);
  REQUIRE(t.announced(1, tx, kT0));
  REQUIRE_FALSE(t.announced(3, tx, kT0));
  REQUIRE_FALSE(t.announced(2, tx, kT0));
  REQUIRE_FALSE(t.announced(4, tx, kT0));
  CHECK(t.not_found(1, tx, kT0) == PeerId{3});
  CHECK(t.in_flight(1) == 0);
  CHECK(t.in_flight(3) == 1);
  CHECK(t.not_found(3, tx, kT0) == PeerId{2});
  CHECK(t.not_found(2, tx, kT0) == PeerId{4});
  CHECK(t.not_found(4, tx, kT0) == std::nullopt);
  CHECK_FALSE(t.requested(tx));
  CHECK(t.size() == 0);
  for (PeerId p : {PeerId{1}, PeerId{2}, PeerId{3}, PeerId{4}}) CHECK(t.in_flight(p) == 0);
  // Forgotten: the next announcement asks again.
  CHECK(t.announced(2, tx, kT0 + 1s));
}

TEST_CASE("a removed peer's requests go to the next announcers, it is never asked again",
          "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2, 3, 4});
  const Hash256 a = txid_n(1), b = txid_n(2), c = txid_n(3);
  REQUIRE(t.announced(1, a, kT0));
  REQUIRE(t.announced(1, b, kT0));
  REQUIRE(t.announced(1, c, kT0));  // nobody else announced c
  REQUIRE_FALSE(t.announced(2, a, kT0));
  REQUIRE_FALSE(t.announced(3, b, kT0));
  REQUIRE_FALSE(t.announced(4, b, kT0));

  const auto moved = sorted(t.remove_peer(1, kT0 + 5s));
  CHECK(moved == std::vector<Tracker::Request>{{2, a}, {3, b}});
  CHECK(t.in_flight(1) == 0);
  CHECK_FALSE(t.requested(c));
  CHECK(t.size() == 2);

  // Peer 4 is still b's alternative; peer 1, gone, announcing again is ignored.
  CHECK_FALSE(t.announced(1, c, kT0 + 6s));
  CHECK_FALSE(t.requested(c));
  CHECK(t.not_found(3, b, kT0 + 6s) == PeerId{4});
}

TEST_CASE("an announcer that left before its turn is skipped", "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2, 3});
  const Hash256 tx = txid_n(1);
  REQUIRE(t.announced(1, tx, kT0));
  REQUIRE_FALSE(t.announced(2, tx, kT0));
  REQUIRE_FALSE(t.announced(3, tx, kT0));
  CHECK(t.remove_peer(2, kT0).empty());  // it had nothing in flight
  CHECK(t.not_found(1, tx, kT0) == PeerId{3});
}

TEST_CASE("a request times out after kTxRequestTimeout, not at it", "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2, 3});
  const Hash256 tx = txid_n(1);
  REQUIRE(t.announced(1, tx, kT0));
  REQUIRE_FALSE(t.announced(2, tx, kT0 + 10s));
  REQUIRE_FALSE(t.announced(3, tx, kT0 + 20s));

  CHECK(t.expire(kT0 + kTxRequestTimeout).empty());
  CHECK(t.in_flight(1) == 1);
  const auto t1 = kT0 + kTxRequestTimeout + 1s;
  CHECK(t.expire(t1) == std::vector<Tracker::Request>{{2, tx}});
  CHECK(t.in_flight(1) == 0);
  CHECK(t.in_flight(2) == 1);

  // The new request's clock starts when it is asked, not when the first one was.
  CHECK(t.expire(t1 + kTxRequestTimeout).empty());
  CHECK(t.expire(t1 + kTxRequestTimeout + 1s) == std::vector<Tracker::Request>{{3, tx}});
  // The last announcer timing out forgets the transaction.
  CHECK(t.expire(t1 + 2 * kTxRequestTimeout + 2s).empty());
  CHECK_FALSE(t.requested(tx));
  CHECK(t.in_flight(3) == 0);
}

TEST_CASE("at most kMaxTxAnnouncers other announcers are remembered, later ones are never asked",
          "[daemon][net][tx_request]") {
  // The peer asked plus kMaxTxAnnouncers alternatives: announcers 2 .. kMaxTxAnnouncers + 1 are
  // asked in turn, announcer kMaxTxAnnouncers + 2 never.
  constexpr PeerId kLast = kMaxTxAnnouncers + 2;
  Tracker t;
  for (PeerId p = 1; p <= kLast; ++p) t.add_peer(p);
  const Hash256 tx = txid_n(1);
  REQUIRE(t.announced(1, tx, kT0));
  for (PeerId p = 2; p <= kLast; ++p) REQUIRE_FALSE(t.announced(p, tx, kT0));

  std::vector<PeerId> asked{1};
  while (auto next = t.not_found(asked.back(), tx, kT0)) asked.push_back(*next);
  CHECK(asked.size() == kMaxTxAnnouncers + 1);
  CHECK(asked.back() == kLast - 1);
  CHECK(std::find(asked.begin(), asked.end(), kLast) == asked.end());
  CHECK(t.in_flight(kLast) == 0);
  CHECK_FALSE(t.requested(tx));
}

TEST_CASE("kMaxTxRequestsPerPeer requests in flight per peer: the next announcement is refused until one is answered",
          "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2});
  std::uint32_t n = 0;
  for (; n < kMaxTxRequestsPerPeer; ++n) REQUIRE(t.announced(1, txid_n(n), kT0));
  CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer);
  const Hash256 over = txid_n(n);
  CHECK_FALSE(t.announced(1, over, kT0));
  CHECK_FALSE(t.requested(over));
  CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer);
  // Another peer is not limited by peer 1's requests.
  CHECK(t.announced(2, over, kT0));

  SECTION("received frees one") {
    t.received(txid_n(7));
    CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer - 1);
    CHECK(t.announced(1, txid_n(n + 1), kT0));
    CHECK_FALSE(t.announced(1, txid_n(n + 2), kT0));
  }
  SECTION("notfound frees one") {
    CHECK(t.not_found(1, txid_n(7), kT0) == std::nullopt);
    CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer - 1);
    CHECK(t.announced(1, txid_n(n + 1), kT0));
    CHECK_FALSE(t.announced(1, txid_n(n + 2), kT0));
  }
  SECTION("a peer at its bound is not asked as an alternative until it has room") {
    // Peer 2 asked for `over`; peer 1 (full) announces it too, then peer 2 says notfound.
    CHECK_FALSE(t.announced(1, over, kT0));
    CHECK(t.not_found(2, over, kT0) == std::nullopt);
    CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer);
    CHECK_FALSE(t.requested(over));
    CHECK(t.deferred(1) == 2);  // `over` (as announced first) and again as the alternative
    t.received(txid_n(7));
    const auto next = t.next_deferred(kT0, [](const Hash256&) { return true; });
    CHECK(next == std::vector<TxRequestTracker::Request>{{1, over}});
  }
}

TEST_CASE("announcements beyond kMaxTxRequestsPerPeer are deferred, asked as the peer delivers, never lost",
          "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2});
  const auto all = [](const Hash256&) { return true; };
  std::uint32_t n = 0;
  for (; n < kMaxTxRequestsPerPeer + 300; ++n) t.announced(1, txid_n(n), kT0);
  CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer);
  CHECK(t.deferred(1) == 300);
  CHECK(t.next_deferred(kT0, all).empty());  // no room yet
  // It delivers 100: the next 100 are asked, oldest first.
  for (std::uint32_t i = 0; i < 100; ++i) t.received(txid_n(i));
  auto next = t.next_deferred(kT0, all);
  REQUIRE(next.size() == 100);
  CHECK(next.front() == TxRequestTracker::Request{1, txid_n(kMaxTxRequestsPerPeer)});
  CHECK(next.back() == TxRequestTracker::Request{1, txid_n(kMaxTxRequestsPerPeer + 99)});
  CHECK(t.in_flight(1) == kMaxTxRequestsPerPeer);
  CHECK(t.deferred(1) == 200);
  // What we no longer want (arrived from elsewhere, rejected) is skipped, not asked.
  for (std::uint32_t i = 100; i < 200; ++i) t.received(txid_n(i));
  const Hash256 skipped = txid_n(kMaxTxRequestsPerPeer + 100);
  next = t.next_deferred(kT0, [&](const Hash256& h) { return h != skipped; });
  REQUIRE(next.size() == 100);
  CHECK(next.front().txid == txid_n(kMaxTxRequestsPerPeer + 101));
  CHECK(t.deferred(1) == 99);

  SECTION("at most kMaxDeferredTxAnnouncements wait; a removed peer's queue is gone") {
    for (std::uint32_t i = 0; i < kMaxDeferredTxAnnouncements; ++i) t.announced(1, txid_n(1'000'000 + i), kT0);
    CHECK(t.deferred(1) == kMaxDeferredTxAnnouncements);
    t.remove_peer(1, kT0);
    CHECK(t.deferred(1) == 0);
    CHECK(t.next_deferred(kT0, all).empty());
  }
}

TEST_CASE("a peer not added (no handshake) is never asked, not even as an alternative", "[daemon][net][tx_request]") {
  Tracker t = with_peers({1});
  const Hash256 a = txid_n(1), b = txid_n(2);
  CHECK_FALSE(t.announced(9, a, kT0));
  CHECK_FALSE(t.requested(a));
  CHECK(t.in_flight(9) == 0);

  REQUIRE(t.announced(1, b, kT0));
  CHECK_FALSE(t.announced(9, b, kT0));
  CHECK(t.not_found(1, b, kT0) == std::nullopt);
  CHECK(t.expire(kT0 + 10 * kTxRequestTimeout).empty());
  CHECK(t.in_flight(9) == 0);
}

TEST_CASE("notfound from a peer that was not asked changes nothing", "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2, 3});
  const Hash256 tx = txid_n(1);
  REQUIRE(t.announced(1, tx, kT0));
  REQUIRE_FALSE(t.announced(2, tx, kT0));
  CHECK(t.not_found(2, tx, kT0) == std::nullopt);          // an alternative, not asked
  CHECK(t.not_found(3, tx, kT0) == std::nullopt);          // never announced it
  CHECK(t.not_found(1, txid_n(99), kT0) == std::nullopt);  // never announced by anyone
  CHECK(t.requested(tx));
  CHECK(t.size() == 1);
  CHECK(t.in_flight(1) == 1);
  CHECK(t.in_flight(2) == 0);
  // Peer 2 is still the next to ask.
  CHECK(t.not_found(1, tx, kT0) == PeerId{2});
}

TEST_CASE("a transaction received from anyone ends its request, its alternatives are not asked",
          "[daemon][net][tx_request]") {
  Tracker t = with_peers({1, 2});
  const Hash256 tx = txid_n(1);
  REQUIRE(t.announced(1, tx, kT0));
  REQUIRE_FALSE(t.announced(2, tx, kT0));
  t.received(tx);
  CHECK_FALSE(t.requested(tx));
  CHECK(t.in_flight(1) == 0);
  CHECK(t.expire(kT0 + 10 * kTxRequestTimeout).empty());
  CHECK(t.remove_peer(1, kT0).empty());
  t.received(tx);  // again: nothing to do
  CHECK(t.size() == 0);
}
