"""Headers anti-DoS end to end (docs/protocol.md 7.2): -minimumchainwork and the headers presync.

Node A mines a regtest chain; node B, started with -minimumchainwork above A's work, connects to
A and must store none of A's headers (a full headers message starts a presync that ends when A's
chain does). Once A's chain passes the minimum, B presyncs it, downloads it again, stores it and
syncs. A raw peer then sends sibling headers forking at genesis: B stores none of them.

Run: python3 p2p_headers_test.py --build-dir <cmake build dir>
"""

import struct
import time

import framework
import p2p_util as u
from framework import assert_equal, assert_true

FIRST_HEIGHT = 2100    # more than one full headers message (2,000)
MINIMUM_HEIGHT = 2300  # B's minimum chain work: that of a chain this high
FINAL_HEIGHT = 2400
STATE = {}


def work_per_block(node):
    """Regtest blocks all carry the same bits: chainwork / (height + 1)."""
    info = node.rpc("getblockchaininfo")
    return int(info["chainwork"], 16) // (info["blocks"] + 1)


def test_low_work_chain_is_presynced_and_not_stored(t):
    a = u.net_node(t)
    miner = u.Key("headers miner")
    u.generate(a, FIRST_HEIGHT, miner.address)
    minimum = work_per_block(a) * (MINIMUM_HEIGHT + 1)
    b = u.net_node(t, [f"-connect={u.p2p_addr(a)}", f"-minimumchainwork={minimum:x}"])
    u.wait_connected(b, a)
    # B presyncs A's chain (2,000 headers, then 100 more) and drops it: the presync ends in its log.
    framework.wait_until(lambda: u.log_lines(b, "headers presync ended, nothing stored"), timeout=30,
                         what="B's presync of A's low-work chain to end")
    info = b.rpc("getblockchaininfo")
    assert_equal(info["headers"], 0, "headers B stored of a chain below its minimum chain work")
    assert_equal(info["blocks"], 0, "blocks B downloaded")
    assert_equal(len(b.rpc("getchaintips")), 1, "chain tips on B")
    assert_equal(b.rpc("listbanned"), [], "an honest chain below the minimum is no offence")
    assert_equal(u.peer_count(b), 1, "B still connected to A")
    STATE.update(a=a, b=b, miner=miner)


def test_chain_above_minimum_work_is_synced(t):
    a, b = STATE.get("a"), STATE.get("b")
    if b is None:
        raise framework.TestFailure("needs test_low_work_chain_is_presynced_and_not_stored")
    t0 = time.monotonic()
    u.generate(a, FINAL_HEIGHT - FIRST_HEIGHT, STATE["miner"].address)
    # A announces its new blocks; B asks for headers, presyncs A's chain past the minimum, asks for
    # it again, stores it and downloads the blocks.
    u.wait_same_tip([a, b], timeout=90, tip=a.rpc("getbestblockhash"))
    print(f"  B presynced, stored and downloaded {b.rpc('getblockcount')} blocks in "
          f"{time.monotonic() - t0:.2f} s")
    assert_true(u.log_lines(b, "headers presync done"), "B's log shows the presync completed")
    assert_equal(b.rpc("listbanned"), [], "bans on B")


def sibling_header(i, genesis_internal, genesis_time):
    """A valid regtest header on genesis, distinct by its merkle root."""
    merkle = struct.pack("<I", i) + bytes(28)
    for nonce in range(1_000_000):
        h = u.header_bytes(1, genesis_internal, merkle, genesis_time + 60, 0x207fffff, nonce)
        if u.hash_meets(h, 0x207fffff):
            return h
    raise framework.TestFailure("no nonce found for a regtest header")


def test_sibling_headers_from_genesis_are_not_stored(t):
    b = STATE.get("b")
    if b is None:
        raise framework.TestFailure("needs the tests before")
    genesis = b.rpc("getblockhash", 0)
    genesis_time = b.rpc("getblockheader", genesis)["time"]
    tips_before = len(b.rpc("getchaintips"))
    count = 200
    with u.RawPeer(b.p2p_port) as peer:
        peer.handshake()
        for i in range(count):
            peer.send("headers", u.varint(1) + sibling_header(i, u.internal(genesis), genesis_time))
        # A ping answered means every headers message before it was processed.
        peer.send("ping", struct.pack("<Q", 77))
        peer.expect("pong", timeout=10)
    assert_equal(len(b.rpc("getchaintips")), tips_before, f"chain tips after {count} sibling headers from genesis")
    assert_equal(b.rpc("getblockchaininfo")["headers"], FINAL_HEIGHT, "B's best header")


if __name__ == "__main__":
    framework.main([test_low_work_chain_is_presynced_and_not_stored, test_chain_above_minimum_work_is_synced,
                    test_sibling_headers_from_genesis_are_not_stored])
