"""Extra block-relay-only probes (Bitcoin Core's EXTRA_BLOCK_RELAY_ONLY_PEER_INTERVAL) find a
chain with more work that none of our peers knows, while our own tip is not stale.

    X --full-relay / block-relay-only--> B, C, D     (from X's peers.json; B mined a recent block)
    Z: a chain of more work, known to X only as one address in its book (an addr from a raw peer)

X's three outbound slots (-outboundfullrelay=1 plus the two block-relay-only ones) are full, so
without a probe it never dials Z: that is X2, the control, with -extrablockrelayinterval=86400.
X probes on average every 2 s: it dials Z block-relay-only, takes its headers, downloads Z's
chain and reorganises onto it; then, having one block-relay-only peer too many, it disconnects the
second youngest (Z gave it a block last, so Z stays).

Run: python3 p2p_extra_block_relay_test.py --build-dir <cmake build dir>
"""

import json
import os
import time

import framework
import p2p_util as u
from framework import assert_equal, assert_true, wait_until

CONTROL_WINDOW = 8  # seconds; X, probing every 2 s on average, found Z in 3-5 s in our runs
EVICT_REASON = "one block-relay-only connection too many"


def leaf(t):
    """A node that dials nobody (its -connect is a closed port): its links are the ones X makes."""
    return u.net_node(t, [f"-connect=127.0.0.1:{framework.free_port()}"])


def prober(t, others, interval):
    x = t.node(extra_args=u.NET_ARGS + ["-outboundfullrelay=1", f"-extrablockrelayinterval={interval}"], start=False)
    now = int(time.time())
    os.makedirs(x.datadir, exist_ok=True)
    with open(os.path.join(x.datadir, "peers.json"), "w", encoding="ascii") as f:
        json.dump([{"addr": u.p2p_addr(o), "time": now - 60, "last_success": now - 60, "source": "tracker"}
                   for o in others], f)
    x.start()
    return x


def kinds(node):
    out = {}
    for p in u.peers(node):
        out.setdefault(p["connection_type"], []).append(p["addr"])
    return out


def slots_full(node, b, b_tip):
    wait_until(lambda: len(kinds(node).get("block-relay-only", [])) == 2
               and len(kinds(node).get("outbound-full-relay", [])) == 1,
               timeout=20, interval=0.1, what="the three outbound slots full")
    u.wait_same_tip([node, b], timeout=20, tip=b_tip)


def test_probe_finds_the_chain_with_more_work(t):
    b, c, d = leaf(t), leaf(t), leaf(t)
    z = leaf(t)
    b_tip = b.rpc("generatetoaddress", 1, u.Key("extra b").address)[-1]  # recent: X's initial sync ends
    z_tip = z.rpc("generatetoaddress", 5, u.Key("extra z").address)[-1]  # more work, elsewhere
    # The control first: the same book and full slots, no probes. In CONTROL_WINDOW it never
    # dials Z, and stays on B's block.
    x2 = prober(t, [b, c, d], 86400)
    slots_full(x2, b, b_tip)
    u.tell_address(x2, z)
    time.sleep(CONTROL_WINDOW)
    assert_equal(x2.rpc("getbestblockhash"), b_tip, "X2 (no probes) stays on B's chain")
    assert_true(u.p2p_addr(z) not in sum(kinds(x2).values(), []), f"X2's peers: {kinds(x2)}")
    x2.stop()
    # X probes: Z's chain arrives over a block-relay-only connection to Z.
    x = prober(t, [b, c, d], 2)
    slots_full(x, b, b_tip)
    u.tell_address(x, z)
    start = time.time()
    u.wait_same_tip([x, z], timeout=40, tip=z_tip)
    print(f"X reorganised onto Z's chain {time.time() - start:.1f} s after learning Z's address")
    assert_true(u.p2p_addr(z) in kinds(x).get("block-relay-only", []), f"X's peers: {kinds(x)}")
    # One block-relay-only peer too many: not Z (it gave us a block last), an older one goes.
    wait_until(lambda: EVICT_REASON in u.log_text(x), timeout=45, interval=0.5,
               what="X disconnects its extra block-relay-only peer")
    assert_true(u.p2p_addr(z) in kinds(x).get("block-relay-only", []), f"Z stays: {kinds(x)}")


if __name__ == "__main__":
    framework.main([test_probe_finds_the_chain_with_more_work])
