"""A dialler leaves a crowded node (docs/protocol.md 7.8, issue 17): the accepting side's `slots`
says how many of its inbound slots are taken, and a dialler that already has
kMinOutboundToLeaveCrowded other outbound peers closes a connection of its choosing to a node at
kCrowdedInboundPercent or more, and does not dial it again for kAddrCrowdedWait.

    A1..A4 <--manual-- D --book--> C  (-maxconnections=12: 2 inbound slots, D's dial makes it 1 of 2)
                       D --book--> R  (default: 54 inbound slots)

D learns C's and R's addresses from an `addr` once its four manual peers are up. Before this
change D kept C as an outbound peer; and without the crowded mark it would dial C again every
dial round (C is its only candidate).

Run: python3 p2p_slots_test.py --build-dir <cmake build dir>
"""

import re
import time

import framework
import p2p_util as u
from framework import assert_equal, assert_true, wait_until

MANUAL = 4  # kMinOutboundToLeaveCrowded (daemon/net/peer_manager.hpp)
NO_REDIAL_WINDOW = 4.0  # seconds: four dial rounds (1 s each) in which C must not be dialled again


def dials_of(node, other):
    """How many times `node`'s log says it dialled `other` from the book."""
    with open(node.debug_log, encoding="utf-8", errors="replace") as f:
        return len(re.findall(rf"dialling {re.escape(u.p2p_addr(other))} ", f.read()))


def outbound_to(node, other):
    return [p for p in u.peers(node) if p["addr"] == u.p2p_addr(other)]


def test_a_dialler_leaves_a_crowded_node(t):
    manual = [u.net_node(t) for _ in range(MANUAL)]
    crowded = u.net_node(t, ["-maxconnections=12"])
    roomy = u.net_node(t)
    d = u.net_node(t, [f"-addnode={u.p2p_addr(a)}" for a in manual])
    wait_until(lambda: sum(p["connection_type"] == "manual" for p in u.peers(d)) == MANUAL, timeout=30,
               interval=0.1, what=f"D's {MANUAL} manual peers")

    u.tell_address(d, crowded)
    wait_until(lambda: "its inbound slots are crowded (1 of 2)" in open(d.debug_log, encoding="utf-8").read(),
               timeout=20, interval=0.1, what="D to leave C as crowded")
    dialled = dials_of(d, crowded)
    assert_equal(dialled, 1)
    time.sleep(NO_REDIAL_WINDOW)
    assert_equal(dials_of(d, crowded), dialled, "C dialled again within kAddrCrowdedWait")
    assert_equal(outbound_to(d, crowded), [], "D kept the crowded C")

    # The control: a node with room is kept, and getpeerinfo shows what it said.
    u.tell_address(d, roomy)
    wait_until(lambda: outbound_to(d, roomy), timeout=20, interval=0.1, what="D to keep R")
    r = outbound_to(d, roomy)[0]
    assert_equal(r["connection_type"], "outbound-full-relay")
    assert_equal(r["peer_slots"], {"inbound": 1, "max_inbound": 54})
    # The other side: A1 accepted D, so it was sent no `slots` (an opener never sends one).
    d_at_a = [p for p in u.peers(manual[0]) if p["inbound"]]
    assert_equal(len(d_at_a), 1, "A1's inbound peers")
    assert_true("peer_slots" not in d_at_a[0], f"peer_slots on an inbound peer: {d_at_a[0]}")


if __name__ == "__main__":
    framework.main([test_a_dialler_leaves_a_crowded_node])
