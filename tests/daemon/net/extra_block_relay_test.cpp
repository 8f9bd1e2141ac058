// Extra block-relay-only probes (Bitcoin Core's StartExtraBlockRelayPeers and the block-relay
// part of EvictExtraOutboundPeers): after the initial sync, every kExtraBlockRelayInterval on
// average one block-relay-only connection more is dialled; of the two youngest, the one that gave
// us a block last stays.
#include <catch2/catch.hpp>

#include "daemon/net/extra_block_relay.hpp"
#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

using TimePoint = std::chrono::steady_clock::time_point;
const TimePoint kT0{std::chrono::hours(10)};

EvictionCandidate block_relay_peer(PeerId id, TimePoint connected, TimePoint last_block = {}) {
  EvictionCandidate c;
  c.id = id;
  c.connected = connected;
  c.last_block = last_block;
  c.handshake_done = true;
  return c;
}

}  // namespace

TEST_CASE("extra block-relay-only probes wait for the initial sync and for full slots", "[daemon][net][extra]") {
  std::mt19937_64 rng(7);
  ExtraBlockRelay extra(kExtraBlockRelayInterval);
  CHECK_FALSE(extra.take(kT0 + 24h, 2, 2, rng));  // initial sync not done: never
  extra.start(kT0, rng);
  REQUIRE(extra.started());
  const TimePoint due = extra.next();
  CHECK(due > kT0);
  CHECK(due <= kT0 + 10 * kExtraBlockRelayInterval);  // the gap's cap
  CHECK_FALSE(extra.take(due - 1s, 2, 2, rng));       // not yet
  CHECK_FALSE(extra.take(due, 1, 2, rng));            // a regular slot is free: that comes first
  CHECK(extra.next() == due);
  CHECK(extra.take(due, 2, 2, rng));
  CHECK(extra.next() > due);
  CHECK_FALSE(extra.take(due, 3, 2, rng));  // taken once
  // start() again does not move the schedule.
  const TimePoint next = extra.next();
  extra.start(kT0 + 1h, rng);
  CHECK(extra.next() == next);
  // No block-relay-only connections wanted (-connect, -maxconnections low): no probe.
  CHECK_FALSE(extra.take(next + 24h, 0, 0, rng));
}

TEST_CASE("extra block-relay-only probes come at exponential gaps with the interval as mean",
          "[daemon][net][extra]") {
  std::mt19937_64 rng(11);
  ExtraBlockRelay extra(kExtraBlockRelayInterval);
  extra.start(kT0, rng);
  constexpr int kDraws = 20'000;
  TimePoint last = kT0;
  double sum = 0;
  int below_tenth = 0;
  for (int i = 0; i < kDraws; ++i) {
    const TimePoint due = extra.next();
    const double gap = std::chrono::duration<double>(due - last).count();
    sum += gap;
    if (gap < 0.1 * kExtraBlockRelayInterval.count()) ++below_tenth;
    REQUIRE(gap <= 10.0 * kExtraBlockRelayInterval.count());
    REQUIRE(extra.take(due, 2, 2, rng));
    last = due;
  }
  // Mean 300 s (within 3 %), and about 1 - e^-0.1 = 9.5 % of gaps under 30 s: the nodes of a
  // network do not probe in lockstep.
  CHECK(sum / kDraws == Approx(kExtraBlockRelayInterval.count()).epsilon(0.03));
  CHECK(below_tenth / double(kDraws) == Approx(0.095).margin(0.01));
}

TEST_CASE("of two block-relay-only peers too many, the one that gave us a block last stays", "[daemon][net][extra]") {
  const TimePoint now = kT0 + 1h;
  const TimePoint old_enough = now - kExtraBlockRelayMinConnectTime;
  SECTION("fewer than two: none") {
    CHECK_FALSE(ExtraBlockRelay::select_to_evict({}, 1, now));
    CHECK_FALSE(ExtraBlockRelay::select_to_evict({block_relay_peer(3, kT0)}, 1, now));
  }
  SECTION("no more than wanted with the handshake done: none (a probe still handshaking pushes out nobody)") {
    const auto a = block_relay_peer(1, kT0, kT0 + 5min);
    const auto b = block_relay_peer(2, old_enough);
    CHECK_FALSE(ExtraBlockRelay::select_to_evict({a, b}, 2, now));
    CHECK(ExtraBlockRelay::select_to_evict({a, b}, 1, now) == 2);
  }
  SECTION("the youngest gave us nothing newer: it goes") {
    const auto a = block_relay_peer(1, kT0, kT0 + 5min);
    const auto b = block_relay_peer(2, kT0);
    const auto probe = block_relay_peer(9, old_enough);
    CHECK(ExtraBlockRelay::select_to_evict({probe, a, b}, 2, now) == 9);
  }
  SECTION("the youngest gave us a block more recently than the second youngest: the second goes") {
    const auto a = block_relay_peer(1, kT0, kT0 + 50min);
    const auto b = block_relay_peer(2, kT0, kT0 + 5min);
    const auto probe = block_relay_peer(9, old_enough, kT0 + 55min);
    CHECK(ExtraBlockRelay::select_to_evict({a, b, probe}, 2, now) == 2);
  }
  SECTION("equal block times: the youngest goes") {
    const auto a = block_relay_peer(1, kT0, kT0 + 5min);
    const auto probe = block_relay_peer(9, old_enough, kT0 + 5min);
    CHECK(ExtraBlockRelay::select_to_evict({a, probe}, 1, now) == 9);
  }
  SECTION("at the bound of the minimum connect time, and with blocks in flight") {
    const auto a = block_relay_peer(1, kT0);
    auto probe = block_relay_peer(9, old_enough + 1s);
    CHECK_FALSE(ExtraBlockRelay::select_to_evict({a, probe}, 1, now));  // 29 s connected: stays for now
    probe.connected = old_enough;
    CHECK(ExtraBlockRelay::select_to_evict({a, probe}, 1, now) == 9);  // 30 s: goes
    probe.blocks_in_flight = 1;
    CHECK_FALSE(ExtraBlockRelay::select_to_evict({a, probe}, 1, now));  // sending us a block: later
  }
}

TEST_CASE("the message processor says once that the initial sync is done, when the tip is recent",
          "[daemon][net][extra]") {
  auto options = PeerHarness::default_options();
  options.ping_interval = options.ping_timeout = std::chrono::hours(1);
  PeerHarness h(options);
  h.peers.on_tick();
  CHECK(h.sink.initial_sync_reports == 0);  // genesis is 30 days old
  const PeerId p = h.handshaked(false);
  // A block 21 intervals old is not recent enough...
  const auto old_time = static_cast<std::uint32_t>(h.clock.unix_now() - (kInitialSyncTipAgeBlocks + 1) * 60);
  h.peers.on_message(p,
                     net::BlockMsg{make_block(h.chain, h.chain.tip(), pub(1), {}, BlockOptions::at_time(old_time))});
  h.services.run_pending();
  h.peers.on_tick();
  CHECK(h.sink.initial_sync_reports == 0);
  // ...one 20 intervals old is.
  const auto recent = static_cast<std::uint32_t>(h.clock.unix_now() - kInitialSyncTipAgeBlocks * 60);
  h.peers.on_message(p, net::BlockMsg{make_block(h.chain, h.chain.tip(), pub(1), {}, BlockOptions::at_time(recent))});
  h.services.run_pending();
  h.peers.on_tick();
  CHECK(h.sink.initial_sync_reports == 1);
  h.clock.advance(24h);  // the tip grows old again: the sync is not taken back
  h.peers.on_tick();
  CHECK(h.sink.initial_sync_reports == 1);
}
