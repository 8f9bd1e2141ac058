"""The address book outlives a restart: a node finds its peer again from peers.json alone.

Node B dials A with -addnode; both stop cleanly; A comes back on the same port; B comes back
WITHOUT -addnode (and without a tracker) and reconnects to A from its persisted address book.

Run: python3 p2p_restart_test.py --build-dir <cmake build dir>
"""

import json
import os

import framework
import p2p_util as u
from framework import assert_equal, assert_true

STATE = {}


def test_address_book_persists(t):
    a = u.net_node(t)
    b = u.net_node(t, [f"-addnode={u.p2p_addr(a)}"])
    u.wait_connected(a, b)
    h = a.rpc("generatetoaddress", 3, u.Key("restart miner").address)[-1]
    u.wait_same_tip([a, b], timeout=15, tip=h)
    b.stop()
    a.stop()
    book = os.path.join(b.datadir, "peers.json")
    assert_true(os.path.exists(book), "B wrote peers.json")
    with open(book, encoding="utf-8") as f:
        doc = json.load(f)
    assert_equal(doc.get("version"), 2, "peers.json version")
    assert_equal(len(doc.get("key", "")), 64, "peers.json keeps the node's 256-bit bucket key (hex)")
    entries = doc["entries"]
    addrs = [e.get("addr") for e in entries]
    tried = [e.get("addr") for e in entries if e.get("tried")]
    assert_true(u.p2p_addr(a) in tried, f"A (handshaked) is in B's tried table: {entries}")
    assert_true(u.p2p_addr(a) in addrs, f"A's address {u.p2p_addr(a)} in B's peers.json: {entries}")
    assert_equal(oct(os.stat(book).st_mode & 0o777), oct(0o600), "peers.json mode")
    STATE.update(a=a, b=b)


def test_reconnects_from_address_book(t):
    a, b = STATE.get("a"), STATE.get("b")
    if a is None:
        raise framework.TestFailure("needs test_address_book_persists")
    a.start()  # same data directory, same -port
    b.extra_args = list(u.NET_ARGS)  # no -addnode, no -connect, no tracker
    b.start()
    u.wait_connected(a, b, timeout=30)
    outbound = [p for p in u.peers(b) if not p["inbound"]]
    assert_equal([p["addr"] for p in outbound], [u.p2p_addr(a)], "B dialed A from its address book")
    # And they work together: a block mined on A reaches B.
    h = a.rpc("generatetoaddress", 1, u.Key("restart miner").address)[0]
    u.wait_same_tip([a, b], timeout=15, tip=h)
    assert_equal(b.rpc("getblockcount"), 4, "B's height")


def test_inbound_peer_remembered(t):
    """A also learned B (inbound, with B's listen port): A alone can dial B after a restart."""
    a, b = STATE.get("a"), STATE.get("b")
    if a is None:
        raise framework.TestFailure("needs the earlier tests")
    b.stop()
    a.stop()
    with open(os.path.join(a.datadir, "peers.json"), encoding="utf-8") as f:
        addrs = [e.get("addr") for e in json.load(f)["entries"]]
    assert_true(u.p2p_addr(b) in addrs, f"B's listen address in A's peers.json: {addrs}")
    b.start()
    a.extra_args = list(u.NET_ARGS)
    a.start()
    u.wait_connected(a, b, timeout=30)


if __name__ == "__main__":
    framework.main([test_address_book_persists, test_reconnects_from_address_book, test_inbound_peer_remembered])
