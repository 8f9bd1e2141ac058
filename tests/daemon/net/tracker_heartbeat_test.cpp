// When the node heartbeats its tracker: every heartbeat_interval, and early (not before
// kMinHeartbeatGap) when its inbound count moved by kHeartbeatInboundChange, so the tracker's
// answers, weighted by free inbound slots, see a node filling up (docs/protocol.md 8).
#include <catch2/catch.hpp>

#include "daemon/net/tracker_client.hpp"

using namespace cheese;
using namespace std::chrono_literals;

TEST_CASE("heartbeats: on the interval, or early when the inbound count moved", "[daemon][net][tracker]") {
  const auto interval = 30s;
  // The interval passed: due whatever the count.
  CHECK(heartbeat_due(30s, interval, 7, 7));
  CHECK_FALSE(heartbeat_due(29s, interval, 7, 7));
  // Moved by kHeartbeatInboundChange (4), up or down, after kMinHeartbeatGap (5 s): due.
  CHECK(heartbeat_due(kMinHeartbeatGap, interval, 0, kHeartbeatInboundChange));
  CHECK(heartbeat_due(kMinHeartbeatGap, interval, 20, 20 - kHeartbeatInboundChange));
  // One less than the change: not early.
  CHECK_FALSE(heartbeat_due(29s, interval, 0, kHeartbeatInboundChange - 1));
  CHECK_FALSE(heartbeat_due(29s, interval, 20, 20 - kHeartbeatInboundChange + 1));
  // Moved enough, but within kMinHeartbeatGap of the last one: not yet.
  CHECK_FALSE(heartbeat_due(kMinHeartbeatGap - 1ms, interval, 0, 50));
  // A tracker interval below the gap (tests use 1 s) still rules.
  CHECK(heartbeat_due(1s, 1s, 0, 0));
}
