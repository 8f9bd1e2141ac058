"""Hostile and broken peers (raw sockets) against one node, while an honest node stays connected.

Node N (-handshaketimeout=2 -blockstalltimeout=2) is the target; node H (-connect=N, started behind) is the honest
peer. Each test opens a fresh raw connection to N, misbehaves in one way, and checks what
docs/protocol.md (sections 2, 5 and 9) says: frame errors, messages out of order, malformed
payloads and invalid blocks close the connection and discourage the address (on loopback the
exact ip:port); timeouts and a wrong network close it without discouraging; unknown commands and
floods of announcements do not close it. H is never disturbed and still relays at the end.

Run: python3 p2p_hostile_test.py --build-dir <cmake build dir>
"""

import os
import socket
import struct
import time

import framework
import p2p_util as u
from framework import assert_equal, assert_true

MAIN_MAGIC = bytes.fromhex("c8e35ed1")
STATE = {}
DROP_TIMEOUT = 5.0


def setup(t):
    if "n" in STATE:
        return STATE["n"], STATE["h"]
    n = u.net_node(t, ["-handshaketimeout=2", "-blockstalltimeout=2"])
    alice = u.Key("hostile alice")
    miner = u.Key("hostile miner")
    n.rpc("generatetoaddress", 2, alice.address)
    n.rpc("generatetoaddress", u.COINBASE_MATURITY + 8, miner.address)
    # H starts at genesis, 20 blocks behind: an honest peer that is merely behind.
    h = u.net_node(t, [f"-connect={u.p2p_addr(n)}"])
    u.wait_connected(n, h)
    u.wait_same_tip([n, h], timeout=30)
    STATE.update(n=n, h=h, h_conntime=[p["conntime"] for p in u.peers(h)], alice_nonce=0)
    return n, h


raw_key = u.raw_key
banned = u.banned


def honest_still_fine():
    n, h = STATE["n"], STATE["h"]
    assert_true(u.connected_to(n, h) and u.connected_to(h, n), "the honest peer is still connected")
    assert_equal([p["conntime"] for p in u.peers(h)], STATE["h_conntime"], "the honest connection was never replaced")
    n.rpc("getblockcount")


def expect_dropped(raw, what, discouraged=True):
    n = STATE["n"]
    key = raw_key(raw)
    t0 = time.monotonic()
    assert_true(raw.wait_closed(DROP_TIMEOUT), f"{what}: the node kept the connection open for {DROP_TIMEOUT} s")
    elapsed = time.monotonic() - t0
    if discouraged:
        framework.wait_until(lambda: key in banned(n), timeout=5, what=f"{key} in listbanned")
    else:
        assert_true(key not in banned(n), f"{what}: {key} was discouraged: {banned(n)}")
    honest_still_fine()
    return elapsed


def expect_open(raw, what):
    assert_true(raw.still_open(3.0), f"{what}: the node closed the connection")
    assert_true(raw_key(raw) not in banned(STATE["n"]), f"{what}: discouraged")
    honest_still_fine()


def connect(handshake=False):
    return u.connect_raw(STATE["n"], handshake=handshake)


# --------------------------------------------------------------------------------------------- frame errors


def test_garbage_bytes(t):
    setup(t)
    with connect() as raw:
        junk = bytearray(os.urandom(200))
        junk[0] ^= 0xFF if junk[:4] == u.REGTEST_MAGIC else 0
        raw.send_raw(bytes(junk))
        expect_dropped(raw, "garbage")


def test_wrong_magic(t):
    setup(t)
    with connect() as raw:
        raw.send_raw(u.frame("version", u.version_payload(), magic=MAIN_MAGIC))
        expect_dropped(raw, "main-net magic on regtest")


def test_bad_command_field(t):
    setup(t)
    with connect() as raw:
        raw.send_raw(u.frame("VERSION", u.version_payload()))
        expect_dropped(raw, "upper-case command")


def test_oversized_length(t):
    setup(t)
    with connect() as raw:
        # Only the header: the node must decide from the header alone, without waiting for 4 MiB.
        raw.send_raw(u.frame("version", b"", length=u.MAX_PAYLOAD_SIZE + 1, checksum=b"\0\0\0\0"))
        expect_dropped(raw, "length 4194305")


def test_bad_checksum(t):
    setup(t)
    with connect() as raw:
        payload = u.version_payload()
        bad = bytes(b ^ 0x55 for b in u.sha256d(payload)[:4])
        raw.send_raw(u.frame("version", payload, checksum=bad))
        expect_dropped(raw, "bad checksum")


def test_bad_checksum_after_handshake(t):
    setup(t)
    with connect(handshake=True) as raw:
        raw.send_raw(u.frame("ping", b"12345678", checksum=b"\0\0\0\0"))
        expect_dropped(raw, "bad checksum after the handshake")


# --------------------------------------------------------------------------------------------- order


def test_message_before_version(t):
    setup(t)
    with connect() as raw:
        raw.send("ping", struct.pack("<Q", 7))
        expect_dropped(raw, "ping before version")


def test_message_before_verack(t):
    setup(t)
    with connect() as raw:
        raw.send("version", u.version_payload())
        raw.expect("version")
        raw.send("getaddr")
        expect_dropped(raw, "getaddr between version and verack")


def test_second_version(t):
    setup(t)
    with connect(handshake=True) as raw:
        raw.send("version", u.version_payload())
        expect_dropped(raw, "a second version")


def test_malformed_payload(t):
    setup(t)
    with connect(handshake=True) as raw:
        raw.send("ping", b"\x01\x02\x03")  # 3 bytes, not 8
        expect_dropped(raw, "truncated ping")


def test_inv_over_limit(t):
    setup(t)
    with connect(handshake=True) as raw:
        count = 50_001
        raw.send("inv", u.varint(count) + (struct.pack("<I", u.INV_TX) + bytes(32)) * count)
        expect_dropped(raw, "inv with 50001 items")


# --------------------------------------------------------------------------------------------- ignored


def test_unknown_command_ignored(t):
    setup(t)
    with connect(handshake=True) as raw:
        raw.send("sendcheese", b"\x01\x02")
        # Well-formed tracker commands between nodes are ignored too (docs/protocol.md 4.7).
        raw.send("register", struct.pack("<HQ", 0, 12345))
        raw.send("getstatus", b"")
        expect_open(raw, "unknown command")


def test_unknown_command_before_handshake_ignored(t):
    setup(t)
    with connect() as raw:
        raw.send("futurething", b"hello")
        raw.handshake()
        expect_open(raw, "unknown command before version")


def test_inv_flood(t):
    n, _ = setup(t)
    with connect(handshake=True) as raw:
        t0 = time.monotonic()
        for _ in range(1000):
            if not raw.send("inv", u.inv_payload([(u.INV_TX, os.urandom(32))])):
                break
        expect_open(raw, "1000 inv of unknown transactions")
        requested = sum(len(u.parse_inv(p)) for c, p in raw.received if c == "getdata")
        print(f"  node asked for {requested} of the 1000 flooded transactions; "
              f"{time.monotonic() - t0:.1f} s, RPC: height {n.rpc('getblockcount')}")
        # And one inv with many items: the node keeps at most 5000 requests open per peer
        # (kMaxTxRequestsPerPeer), so a flood cannot make it remember without bound.
        raw.send("inv", u.inv_payload([(u.INV_TX, os.urandom(32)) for _ in range(5000)]))
        expect_open(raw, "one inv of 5000 unknown transactions")
        requested = sum(len(u.parse_inv(p)) for c, p in raw.received if c == "getdata")
        print(f"  after 6000 announcements the node asked for {requested}")
        assert_true(1000 <= requested <= 5000, f"{requested} transactions requested")


def test_undelivered_announcement_does_not_block_relay(t):
    """A peer announces a transaction and never delivers it, then leaves: the same transaction
    relayed later by the honest peer must still reach the node."""
    n, h = setup(t)
    alice = u.Key("hostile alice")
    bob = u.Key("hostile bob")
    nonce = n.rpc("getaccount", alice.address)["next_nonce"]
    tx = u.make_transfer(alice, bob.pub, u.COIN, u.MIN_RELAY_FEE, nonce)
    with connect(handshake=True) as raw:
        raw.send("inv", u.inv_payload([(u.INV_TX, u.internal(tx.txid))]))
        payload = raw.expect("getdata", timeout=5)
        assert_equal(u.parse_inv(payload), [(u.INV_TX, u.internal(tx.txid))], "the node asks the announcer")
    # The announcer is gone without delivering. The honest peer now offers the same transaction.
    assert_equal(h.rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
    u.wait_in_mempools([n, h], [tx.txid], timeout=15)


def test_notfound_moves_request_to_next_announcer(t):
    """The first announcer answers notfound and stays: the node asks the honest peer instead."""
    n, h = setup(t)
    alice = u.Key("hostile alice")
    bob = u.Key("hostile bob")
    framework.wait_until(lambda: n.rpc("getrawmempool") == h.rpc("getrawmempool"), timeout=10,
                         what="equal mempools")
    nonce = n.rpc("getaccount", alice.address)["next_nonce"]
    tx = u.make_transfer(alice, bob.pub, u.COIN, u.MIN_RELAY_FEE + 1, nonce)
    item = (u.INV_TX, u.internal(tx.txid))
    with connect(handshake=True) as raw:
        raw.send("inv", u.inv_payload([item]))
        assert_equal(u.parse_inv(raw.expect("getdata", timeout=5)), [item], "the node asks the announcer")
        assert_equal(h.rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
        time.sleep(1.0)  # H announces it to N meanwhile; N remembers H as a second source
        assert_true(tx.txid not in n.rpc("getrawmempool"), "N waits for the first announcer")
        raw.send("notfound", u.inv_payload([item]))
        u.wait_in_mempools([n], [tx.txid], timeout=5)
        expect_open(raw, "notfound")


def addr_entries(count, first_port=1000):
    """Addresses the node may dial: 127.0.0.2 on ports where nothing listens (refused at once;
    never a non-loopback address, which a sandbox may intercept)."""
    now = int(time.time())
    ip = bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 2])
    return u.varint(count) + b"".join(struct.pack("<qQ", now, 1) + ip + struct.pack("<H", first_port + i)
                                      for i in range(count))


def test_unsolicited_addr_flood_ignored(t):
    """docs/protocol.md 7.3: an unsolicited addr with more than 10 entries is ignored."""
    n, _ = setup(t)
    before = n.rpc("getnetworkinfo")["addressbook"]
    with connect(handshake=True) as raw:
        raw.send("addr", addr_entries(1000, first_port=1))
        expect_open(raw, "an unsolicited addr of 1000 entries")
    after = n.rpc("getnetworkinfo")["addressbook"]
    assert_true(after - before <= 10, f"the address book grew from {before} to {after}")
    # A small unsolicited addr (a peer relaying a new node) is fine.
    with connect(handshake=True) as raw:
        raw.send("addr", addr_entries(2, first_port=1))
        expect_open(raw, "an addr of 2 entries")


def test_addr_flood_in_small_messages_rate_limited(t):
    """docs/protocol.md 7.3: unsolicited addresses are rate-limited per peer (0.1 a second, one to
    start with): 200 messages of 10 entries each, each accepted as a message, fill at most a few
    slots of the address book."""
    n, _ = setup(t)
    before = n.rpc("getnetworkinfo")["addressbook"]
    with connect(handshake=True) as raw:
        for i in range(200):
            raw.send("addr", addr_entries(10, first_port=20000 + 10 * i))
        raw.send("ping", struct.pack("<Q", 7))
        raw.expect("pong", timeout=10)  # every addr before it was processed
        after = n.rpc("getnetworkinfo")["addressbook"]
        expect_open(raw, "small unsolicited addr messages")
    # One token to start with, 0.1 a second since the handshake (a few seconds at most here).
    assert_true(after - before <= 3, f"2000 flooded addresses grew the address book from {before} to {after}")


def test_unfinished_handshakes_capped(t):
    """docs/protocol.md 10: at most kMaxInboundUnfinishedHandshakes (8) inbound connections may be
    in their handshake at once; the next is closed at once, and a peer that completes its
    handshake is still served."""
    n, _ = setup(t)
    before = n.rpc("getconnectioncount")
    silent = [connect() for _ in range(8)]
    try:
        framework.wait_until(lambda: n.rpc("getconnectioncount") == before + 8, timeout=1,
                             what="the 8 silent connections accepted")
        extra = connect()
        with extra:
            assert_true(extra.wait_closed(1.0), "a ninth connection without a handshake was accepted")
        assert_equal(n.rpc("getconnectioncount"), before + 8, "the 8 within the cap are still connected")
    finally:
        for raw in silent:
            raw.close()
    # The silent ones time out (-handshaketimeout=2); then a new peer is accepted and served.
    time.sleep(3)
    with connect(handshake=True) as raw:
        expect_open(raw, "a peer after the silent ones timed out")


def test_getheaders_from_another_chain(t):
    """docs/protocol.md 7.2: a locator with no hash of our chain, not even genesis: empty headers."""
    n, _ = setup(t)
    with connect(handshake=True) as raw:
        raw.send("getheaders", u.varint(2) + os.urandom(32) + os.urandom(32) + bytes(32))
        payload = raw.expect("headers", timeout=5)
        assert_true(payload == b"\x00", f"an empty headers for a locator of another chain, not {len(payload)} bytes")
        # An empty locator means genesis: everything after it.
        raw.send("getheaders", u.varint(0) + bytes(32))
        payload = raw.expect("headers", timeout=5)
        assert_equal(payload[0], n.rpc("getblockcount"), "headers after genesis for an empty locator")
        expect_open(raw, "getheaders")


# --------------------------------------------------------------------------------------------- blocks


def solve(header_fields, body, valid_pow=True):
    version, prev, merkle, t_, bits = header_fields
    return u.solve_header(version, prev, merkle, t_, bits, valid_pow), body


def template(n):
    raw = bytes.fromhex(n.rpc("getblocktemplate", u.Key("hostile block maker").address)["blockhex"])
    fields = (struct.unpack_from("<I", raw, 0)[0], raw[4:36], raw[36:68], struct.unpack_from("<I", raw, 68)[0],
              struct.unpack_from("<I", raw, 72)[0])
    return fields, raw[80:]


def test_block_with_bad_merkle_root(t):
    n, h = setup(t)
    tip = n.rpc("getbestblockhash")
    fields, body = template(n)
    header, body = solve(fields, body)
    good = header + body
    # The same header with another body (the coinbase amount changed): the root does not match.
    mutated = bytearray(body)
    mutated[1 + 1 + 32] ^= 1
    with connect(handshake=True) as raw:
        raw.send("block", header + bytes(mutated))
        expect_dropped(raw, "block whose transactions do not match its merkle root")
    assert_equal(n.rpc("getbestblockhash"), tip, "tip unchanged")
    # The header was not condemned by a body that does not belong to it: the real block is fine.
    assert_equal(n.rpc("submitblock", good.hex()), None, "the genuine block is accepted afterwards")
    h_hash = u.display(u.sha256d(header))
    u.wait_same_tip([n, h], timeout=15, tip=h_hash)


def test_block_with_bad_pow(t):
    n, _ = setup(t)
    tip = n.rpc("getbestblockhash")
    fields, body = template(n)
    header, body = solve(fields, body, valid_pow=False)
    with connect(handshake=True) as raw:
        raw.send("block", header + body)
        expect_dropped(raw, "block with a hash above its target")
    assert_equal(n.rpc("getbestblockhash"), tip, "tip unchanged")


def test_headers_with_bad_pow(t):
    n, _ = setup(t)
    fields, body = template(n)
    header, _ = solve(fields, body, valid_pow=False)
    with connect(handshake=True) as raw:
        raw.send("headers", u.varint(1) + header)
        expect_dropped(raw, "header with a hash above its target")


def test_block_with_unknown_parent_is_not_punished(t):
    n, _ = setup(t)
    fields, body = template(n)
    version, _, merkle, t_, bits = fields
    header, body = solve((version, os.urandom(32), merkle, t_, bits), body)
    with connect(handshake=True) as raw:
        raw.send("block", header + body)
        # The node asks for headers (it may be on a branch we do not know) and keeps the peer.
        raw.expect("getheaders", timeout=5)
        expect_open(raw, "block with an unknown parent")


def test_headers_that_do_not_connect_are_not_punished(t):
    n, _ = setup(t)
    fields, body = template(n)
    version, _, merkle, t_, bits = fields
    header, _ = solve((version, os.urandom(32), merkle, t_, bits), body)
    with connect(handshake=True) as raw:
        raw.send("headers", u.varint(1) + header)
        raw.expect("getheaders", timeout=5)  # the node answers with its locator
        expect_open(raw, "headers that do not connect")


def test_well_behaved_raw_peer_is_served(t):
    """A hand-written peer that follows the protocol gets headers, blocks, addresses and news."""
    n, h = setup(t)
    with connect(handshake=True) as raw:
        genesis = u.internal(n.rpc("getblockhash", 0))
        raw.send("getheaders", u.varint(1) + genesis + bytes(32))
        payload = raw.expect("headers", timeout=5)
        count = payload[0]
        height = n.rpc("getblockcount")
        assert_equal(count, height, "headers after genesis")
        last = payload[1 + 80 * (count - 1): 1 + 80 * count]
        assert_equal(u.display(u.sha256d(last)), n.rpc("getbestblockhash"), "the last header is the tip")
        raw.send("getdata", u.inv_payload([(u.INV_BLOCK, u.sha256d(last)), (u.INV_BLOCK, os.urandom(32))]))
        block = raw.expect("block", timeout=5)
        assert_equal(block[:80], last, "the block asked for")
        nf = u.parse_inv(raw.expect("notfound", timeout=5))
        assert_equal(len(nf), 1, "one notfound item for the unknown block")
        raw.send("getaddr")
        # A new block is announced to this peer (it is in sync: we asked for everything).
        hb = h.rpc("generatetoaddress", 1, u.Key("hostile miner").address)[0]
        deadline = time.monotonic() + 10
        seen = False
        for _ in range(1000):
            m = raw.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                break
            if m[0] == "inv" and (u.INV_BLOCK, u.internal(hb)) in u.parse_inv(m[1]):
                seen = True
                break
            if m[0] == "ping":
                raw.send("pong", m[1])
        assert_true(seen, "the new block was announced with inv")
        expect_open(raw, "a well-behaved peer")


def test_stalling_peer_dropped_not_discouraged(t):
    """A peer announces a block, is asked for it and never sends it: after -blockstalltimeout it is
    dropped (not discouraged), and the block still comes in from an honest peer."""
    n, h = setup(t)
    u.wait_same_tip([n, h], timeout=15)
    fields, body = template(h)
    header, body = solve(fields, body)
    block_hash = u.display(u.sha256d(header))
    with connect(handshake=True) as raw:
        raw.send("headers", u.varint(1) + header)
        asked = raw.expect("getdata", timeout=5)
        assert_equal(u.parse_inv(asked), [(u.INV_BLOCK, u.sha256d(header))], "the node asks for the block")
        t0 = time.monotonic()
        elapsed = expect_dropped(raw, "a peer that never delivers a requested block", discouraged=False)
        print(f"  stalling peer dropped after {time.monotonic() - t0:.1f} s (-blockstalltimeout=2)")
    assert_true(elapsed >= 1.5, f"dropped after {elapsed:.1f} s, before the stall timeout")
    # The honest peer has the block now: N fetches it from there.
    assert_equal(h.rpc("submitblock", (header + body).hex()), None, "submitblock on H")
    u.wait_same_tip([n, h], timeout=15, tip=block_hash)


# --------------------------------------------------------------------------------------------- timeouts, network


def test_handshake_timeout(t):
    setup(t)
    with connect() as raw:
        t0 = time.monotonic()
        assert_true(raw.wait_closed(8.0), "a silent peer was not dropped within 8 s (-handshaketimeout=2)")
        elapsed = time.monotonic() - t0
        assert_true(elapsed >= 1.5, f"dropped after {elapsed:.1f} s, before the 2 s timeout")
        print(f"  silent peer dropped after {elapsed:.1f} s")
        assert_true(raw_key(raw) not in banned(STATE["n"]), "a timeout is not discouraged")
    with connect() as raw:
        raw.send("version", u.version_payload())
        raw.expect("version")
        assert_true(raw.wait_closed(8.0), "a peer that never sent verack was not dropped")
        assert_true(raw_key(raw) not in banned(STATE["n"]), "a timeout is not discouraged")
    honest_still_fine()


def test_other_network_not_discouraged(t):
    setup(t)
    with connect() as raw:
        raw.send("version", u.version_payload(network="main"))
        expect_dropped(raw, "version of another network", discouraged=False)
    with connect() as raw:
        raw.send("version", u.version_payload(protocol_version=0))
        expect_dropped(raw, "protocol version 0", discouraged=False)


def test_discouraged_address_refused(t):
    """A discouraged ip:port cannot come straight back (the node drops its new connections)."""
    n, _ = setup(t)
    with connect() as raw:
        raw.send("ping", bytes(8))
        key = raw_key(raw)
        expect_dropped(raw, "ping before version")
    port = int(key.rsplit(":", 1)[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            print(f"  (port {port} not reusable yet; skipped the reconnection check)")
            return
        s.settimeout(5)
        s.connect(("127.0.0.1", n.p2p_port))
        s.sendall(u.frame("version", u.version_payload()))
        data = framework.read_all(s, 3.0)
        assert_true(b"verack" not in data, "a discouraged address completed a handshake")
    finally:
        s.close()


# --------------------------------------------------------------------------------------------- the honest peer


def test_honest_peer_unharmed(t):
    n, h = setup(t)
    honest_still_fine()
    miner = u.Key("hostile miner")
    hb = h.rpc("generatetoaddress", 1, miner.address)[0]
    u.wait_same_tip([n, h], timeout=15, tip=hb)
    nb = n.rpc("generatetoaddress", 1, miner.address)[0]
    u.wait_same_tip([n, h], timeout=15, tip=nb)
    # Behind at the start, synced since: never punished, on either side.
    assert_equal(h.rpc("listbanned"), [], "bans on the honest node")
    h_ports = {str(p["listenport"]) for p in u.peers(n)} | {p["addr"].rsplit(":", 1)[1] for p in u.peers(n)}
    for key in banned(n):
        assert_true(key.startswith("127.0.0.1:") and key.rsplit(":", 1)[1] not in h_ports,
                    f"the honest peer was discouraged: {key} (all: {banned(n)})")
    assert_true(n.rpc("getnetworkinfo")["connections"] >= 1, "N has its honest connection")


if __name__ == "__main__":
    u.ed25519_self_test()
    framework.main([
        test_garbage_bytes, test_wrong_magic, test_bad_command_field, test_oversized_length, test_bad_checksum,
        test_bad_checksum_after_handshake, test_message_before_version, test_message_before_verack,
        test_second_version, test_malformed_payload, test_inv_over_limit, test_unknown_command_ignored,
        test_unknown_command_before_handshake_ignored, test_inv_flood,
        test_undelivered_announcement_does_not_block_relay, test_notfound_moves_request_to_next_announcer,
        test_unsolicited_addr_flood_ignored, test_addr_flood_in_small_messages_rate_limited,
        test_unfinished_handshakes_capped,
        test_getheaders_from_another_chain, test_block_with_bad_merkle_root,
        test_block_with_bad_pow, test_headers_with_bad_pow, test_block_with_unknown_parent_is_not_punished,
        test_headers_that_do_not_connect_are_not_punished, test_well_behaved_raw_peer_is_served,
        test_stalling_peer_dropped_not_discouraged,
        test_handshake_timeout, test_other_network_not_discouraged, test_discouraged_address_refused,
        test_honest_peer_unharmed,
    ])
