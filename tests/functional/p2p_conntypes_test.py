"""Connection kinds on loopback: block-relay-only links carry blocks but no transactions, and
they come back first after a restart (anchors.json).

    B <--manual-- A --block-relay-only--> C, D        (A learns C and D from a tracker)

A runs with -outboundfullrelay=1, so its one full-relay slot is taken by -addnode=B and the two
block-relay-only slots go to the addresses the tracker gives it. C and D only register with the
tracker (their -connect points at a closed port, so they dial nobody): their only link is the
block-relay-only one from A.

Run: python3 p2p_conntypes_test.py --build-dir <cmake build dir>
"""

import json
import os
import time

import framework
import p2p_util as u
from framework import assert_equal, assert_true, wait_until
from tracker_test import Tracker

STATE = {}


def by_type(node):
    out = {}
    for p in u.peers(node):
        out.setdefault(p["connection_type"], []).append(p)
    return out


def setup(t):
    tr = Tracker(t.build_dir).start()
    STATE["tracker"] = tr
    track = f"-tracker=127.0.0.1:{tr.port}"
    b = u.net_node(t)
    c = u.net_node(t, [track, "-connect=127.0.0.1:1"])
    d = u.net_node(t, [track, "-connect=127.0.0.1:1"])
    wait_until(lambda: tr.regtest_count() == 2, timeout=10, what="C and D registered with the tracker")
    a = u.net_node(t, [track, f"-addnode={u.p2p_addr(b)}", "-outboundfullrelay=1"])
    STATE.update(a=a, b=b, c=c, d=d)
    return a, b, c, d


def test_block_relay_only_links(t):
    a, b, c, d = setup(t)
    want = sorted([u.p2p_addr(c), u.p2p_addr(d)])
    wait_until(lambda: sorted(p["addr"] for p in by_type(a).get("block-relay-only", [])) == want, timeout=20,
               interval=0.1, what="A's two block-relay-only connections to C and D")
    kinds = by_type(a)
    assert_equal([p["addr"] for p in kinds.get("manual", [])], [u.p2p_addr(b)], "A -> B is manual (-addnode)")
    assert_equal(kinds.get("outbound-full-relay", []), [], "no other full-relay connection")
    for p in kinds["block-relay-only"]:
        assert_equal(p["inbound"], False, "block-relay-only is outbound")
        assert_equal(p["relaytxes"], False, "no transactions on a block-relay-only link")
    # C sees A inbound, with A's version saying relay=false.
    from_a = by_type(c).get("inbound", [])
    assert_equal(len(from_a), 1, f"C's peers: {u.peers(c)}")
    assert_equal(from_a[0]["relaytxes"], False, "C will not announce transactions to A")


def test_transactions_do_not_cross_block_relay_links(t):
    a, b, c, d = STATE["a"], STATE["b"], STATE["c"], STATE["d"]
    miner, alice, bob = u.Key("conntypes miner"), u.Key("conntypes alice"), u.Key("conntypes bob")
    # Blocks mined on B reach C and D, over A's block-relay-only links (their only links).
    b.rpc("generatetoaddress", 1, alice.address)
    tip = b.rpc("generatetoaddress", u.COINBASE_MATURITY, miner.address)[-1]
    u.wait_same_tip([a, b, c, d], timeout=20, tip=tip)
    nonce = c.rpc("getaccount", alice.address)["nonce"]
    tx = u.make_transfer(alice, bob.pub, 2 * u.COIN, u.MIN_RELAY_FEE, nonce)
    # In C's mempool: it does not travel to A over the block-relay-only link.
    assert_equal(c.rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
    time.sleep(2)
    assert_true(tx.txid not in a.rpc("getrawmempool"), "A did not get the transaction from C")
    # The control: from B it reaches A over the full-relay link; A does not pass it on to D.
    assert_equal(b.rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
    u.wait_in_mempools([a], [tx.txid], timeout=10)
    time.sleep(2)
    assert_true(tx.txid not in d.rpc("getrawmempool"), "D did not get the transaction from A")
    # Mined on C, the block carrying it reaches everyone over the block-relay-only links.
    h = c.rpc("generatetoaddress", 1, miner.address)[0]
    u.wait_same_tip([a, b, c, d], timeout=20, tip=h)
    assert_true(tx.txid in a.rpc("getblock", h)["tx"], "the transfer is in the block")


def raw_handshake(port, relay_byte):
    """A raw peer whose version ends with `relay_byte` (b"" for none, b"\\x00" for relay=false)."""
    raw = u.RawPeer(port)
    raw.send("version", u.version_payload() + relay_byte)
    raw.expect("version", timeout=5)
    raw.send("verack")
    raw.expect("verack", timeout=5)
    return raw


def tx_announced(raw, txid, timeout):
    """True if `raw` receives an inv of type 1 for `txid` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(10000):
        m = raw.recv(max(0.0, deadline - time.monotonic()))
        if m is None:
            return False
        if m[0] == "ping":
            raw.send("pong", m[1])
        if m[0] == "inv" and (u.INV_TX, u.internal(txid)) in u.parse_inv(m[1]):
            return True
    return False


def test_relay_flag_on_the_wire(t):
    """docs/protocol.md 4.1, byte by byte: a version ending in 0x00 asks for no transactions; one
    ending in 0x01 is malformed."""
    b = STATE["b"]
    alice, bob = u.Key("conntypes alice"), u.Key("conntypes bob")
    quiet = raw_handshake(b.p2p_port, b"\x00")
    chatty = raw_handshake(b.p2p_port, b"")
    kinds = {p["relaytxes"] for p in by_type(b).get("inbound", []) if p.get("listenport") == 0}
    assert_equal(kinds, {True, False}, "B's two raw peers: one with relay, one without")
    nonce = b.rpc("getaccount", alice.address)["nonce"]
    tx = u.make_transfer(alice, bob.pub, u.COIN, u.MIN_RELAY_FEE, nonce)
    assert_equal(b.rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
    assert_true(tx_announced(chatty, tx.txid, 5), "the peer with relay got the inv")
    assert_true(not tx_announced(quiet, tx.txid, 1), "the peer with relay=false did not")
    chatty.close()
    quiet.close()
    with u.RawPeer(b.p2p_port) as bad:
        bad.send("version", u.version_payload() + b"\x01")
        assert_true(bad.recv(5) is None and bad.closed, "a version ending in 0x01 closes the connection")


def test_anchors_survive_a_restart(t):
    a, b, c, d = STATE["a"], STATE["b"], STATE["c"], STATE["d"]
    dials_before = len(u.log_lines(a, "dialling "))
    a.stop()
    path = os.path.join(a.datadir, "anchors.json")
    assert_true(os.path.exists(path), "A wrote anchors.json at shutdown")
    assert_equal(oct(os.stat(path).st_mode & 0o777), oct(0o600), "anchors.json mode")
    with open(path, encoding="utf-8") as f:
        anchors = json.load(f)
    assert_equal(sorted(anchors), sorted([u.p2p_addr(c), u.p2p_addr(d)]), "the block-relay-only peers")
    # Back without tracker, -addnode or -outboundfullrelay: all eight full-relay slots are free, so
    # from the address book alone C and D would come back as full-relay peers.
    a.extra_args = list(u.NET_ARGS)
    a.start()
    wait_until(lambda: not os.path.exists(path), timeout=5, what="anchors.json deleted at start")
    want = sorted([u.p2p_addr(c), u.p2p_addr(d)])
    wait_until(lambda: sorted(p["addr"] for p in by_type(a).get("block-relay-only", [])) == want, timeout=15,
               interval=0.1, what="A back on C and D as block-relay-only")
    wait_until(lambda: [p["addr"] for p in by_type(a).get("outbound-full-relay", [])] == [u.p2p_addr(b)],
               timeout=15, interval=0.1, what="A back on B (full relay, from its address book)")
    # The anchors were dialled first: before anything from the address book.
    restart_dials = u.log_lines(a, "dialling ")[dials_before:dials_before + 3]
    assert_equal(len(restart_dials), 3, f"A's dials after the restart: {restart_dials}")
    assert_true(all("block-relay-only" in line for line in restart_dials[:2]), f"anchors first: {restart_dials}")
    assert_true(u.p2p_addr(b) in restart_dials[2], f"then B: {restart_dials}")


def test_feelers(t):
    """-feelers on regtest: with its outbound slots full (-maxconnections=1: one full-relay slot,
    no block-relay-only one) E tests an address it learned from B's getaddr reply with a feeler:
    handshake, then disconnect; the address is not kept as a peer."""
    b = u.net_node(t)
    c = u.net_node(t, [f"-addnode={u.p2p_addr(b)}"])
    u.wait_connected(b, c)
    e = u.net_node(t, [f"-addnode={u.p2p_addr(b)}", "-maxconnections=1", "-outboundfullrelay=1", "-feelers",
                       "-feelerinterval=1"])
    feeler_dial = f"dialling {u.p2p_addr(c)} (feeler)"
    wait_until(lambda: u.log_lines(e, feeler_dial), timeout=15, interval=0.2, what="E's feeler to C")
    wait_until(lambda: u.log_lines(e, "feeler connection: address tested"), timeout=10, interval=0.2,
               what="the feeler's handshake and disconnect")
    tested = u.log_lines(e, "(feeler 127.0.0.1:")  # "Connected to peer N (feeler ip:port, ...)": marked good
    assert_true(any(u.p2p_addr(c) in line for line in tested), f"handshake with C completed: {tested}")
    # E's only lasting peer is B (a feeler may be under way at this moment).
    for p in u.peers(e):
        assert_true(p["addr"] == u.p2p_addr(b) or p["connection_type"] == "feeler", f"E's peers: {u.peers(e)}")
    assert_equal([p["connection_type"] for p in u.peers(e) if p["addr"] == u.p2p_addr(b)], ["manual"], "E -> B")


def main():
    try:
        framework.main([test_block_relay_only_links, test_transactions_do_not_cross_block_relay_links,
                        test_anchors_survive_a_restart, test_feelers,
                        # Last: its malformed version gets a loopback ip:port discouraged, which a
                        # later connection from a reused port would run into.
                        test_relay_flag_on_the_wire])
    finally:
        if "tracker" in STATE:
            STATE["tracker"].stop()


if __name__ == "__main__":
    main()
