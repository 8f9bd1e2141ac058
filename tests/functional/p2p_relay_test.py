"""Relay over a line of 4 nodes joined with -addnode: blocks and transactions reach everyone.

    node0 <- node1 <- node2 <- node3      (an arrow: "-addnode= the node it points at")

Run: python3 p2p_relay_test.py --build-dir <cmake build dir>
"""

import time

import framework
import p2p_util as u
from framework import assert_equal, assert_true, TestFailure

STATE = {}


def line(t):
    """Four nodes in a line, started one after the other; node0 joined first."""
    if "nodes" in STATE:
        return STATE["nodes"]
    nodes = [u.net_node(t, start=False) for _ in range(4)]
    nodes[0].start()
    for i in range(1, 4):
        nodes[i].extra_args.append(f"-addnode={u.p2p_addr(nodes[i - 1])}")
        nodes[i].start()
    u.wait_connected(nodes[0], nodes[1])
    u.wait_connected(nodes[1], nodes[2])
    u.wait_connected(nodes[2], nodes[3])
    STATE["nodes"] = nodes
    return nodes


def test_line_connects(t):
    n = line(t)
    # Every line link is up. (Address gossip may add links between the others later: a node
    # with free outbound slots dials addresses it learned, which is how the network meshes.)
    ports = {node.p2p_port for node in n}
    for a, b in zip(n, n[1:]):
        assert_true(u.connected_to(a, b) and u.connected_to(b, a), f"node{a.index} <-> node{b.index}")
    for node in n:
        for p in u.peers(node):
            assert_true(p.get("listenport") in ports, f"node{node.index} has a stranger for a peer: {p}")


def test_peerinfo_fields(t):
    n = line(t)
    now = time.time()

    def pongs_in():
        return all("pingtime" in p for node in n for p in u.peers(node))

    framework.wait_until(pongs_in, timeout=15, interval=0.1, what="a ping round trip with every peer")
    for node in n:
        for p in u.peers(node):
            for field in ("addr", "inbound", "version", "startingheight", "bytessent", "bytesrecv", "pingtime",
                          "conntime", "subver"):
                assert_true(field in p, f"getpeerinfo of node{node.index} lacks {field}: {p}")
            assert_equal(p["version"], 3, "protocol version")
            # A peer we dialled said its inbound load (`slots`, docs/protocol.md 7.8).
            if not p["inbound"]:
                assert_equal(p["peer_slots"]["max_inbound"], 54, f"peer_slots of an outbound peer {p}")
                assert_true(1 <= p["peer_slots"]["inbound"] <= 54, f"peer_slots {p}")
            else:
                assert_true("peer_slots" not in p, f"peer_slots on an inbound peer {p}")
            assert_true(p["addr"].startswith("127.0.0.1:"), f"addr {p['addr']}")
            assert_true(p["bytessent"] > 0 and p["bytesrecv"] > 0, f"byte counters {p}")
            assert_true(0 <= p["pingtime"] < 5, f"pingtime {p['pingtime']}")
            assert_true(now - 120 < p["conntime"] <= now + 5, f"conntime {p['conntime']} vs now {now}")
            assert_equal(p["startingheight"], 0, "startingheight (all started at genesis)")
            assert_true(p["subver"].startswith("/cheesed:"), f"subver {p['subver']}")
    # Direction: node1 dialed node0, so node0 sees it inbound and node1 sees node0 outbound.
    by_addr = {p["addr"]: p for p in u.peers(n[1])}
    assert_in_msg = f"node1 peers {list(by_addr)}"
    assert_true(u.p2p_addr(n[0]) in by_addr, assert_in_msg)
    assert_equal(by_addr[u.p2p_addr(n[0])]["inbound"], False, "node1 -> node0 is outbound")
    from1 = [p for p in u.peers(n[0]) if p.get("listenport") == n[1].p2p_port]
    assert_equal([p["inbound"] for p in from1], [True], "node0 sees node1 inbound, with its listen port")
    info = n[0].rpc("getnetworkinfo")
    assert_equal(info["connections"], len(n[0].rpc("getpeerinfo")), "getnetworkinfo connections")
    assert_true(info["connections_in"] >= 1, f"node0 has inbound connections: {info}")
    assert_true(info["totalbytessent"] > 0 and info["totalbytesrecv"] > 0, f"totals {info}")


def test_block_reaches_everyone(t):
    n = line(t)
    key = u.Key("relay miner")
    # From one end, then from the other end, then from the middle.
    for src in (3, 0, 1):
        before = n[src].rpc("getblockcount")
        h = n[src].rpc("generatetoaddress", 1, key.address)[0]
        tip = u.wait_same_tip(n, timeout=30, tip=h)
        assert_equal(tip, h, "tip")
        for node in n:
            assert_equal(node.rpc("getblockcount"), before + 1, f"height of node{node.index}")


def test_many_blocks_reach_everyone(t):
    n = line(t)
    key = u.Key("relay miner")
    hashes = n[2].rpc("generatetoaddress", 30, key.address)
    u.wait_same_tip(n, timeout=60, tip=hashes[-1])
    for node in n:
        assert_equal(node.rpc("getblockhash", node.rpc("getblockcount") - 15), hashes[-16], "block 15 deep")


def test_transaction_reaches_every_mempool(t):
    n = line(t)
    miner = u.Key("relay miner")
    alice = u.Key("relay alice")
    bob = u.Key("relay bob")
    # Fund alice: her first coinbase matures 10 blocks later.
    n[0].rpc("generatetoaddress", 1, alice.address)
    h = n[0].rpc("generatetoaddress", u.COINBASE_MATURITY, miner.address)[-1]
    u.wait_same_tip(n, timeout=30, tip=h)
    acct = n[3].rpc("getaccount", alice.address)
    assert_equal(u.crumbs(acct["balance"]), 50 * u.COIN, "alice's matured reward on node3")
    nonce = acct["nonce"]
    # Submitted at the far end; must travel three hops back to node0, which joined first.
    tx1 = u.make_transfer(alice, bob.pub, 3 * u.COIN, u.MIN_RELAY_FEE, nonce)
    assert_equal(n[3].rpc("sendrawtransaction", tx1.hex), tx1.txid, "txid")
    u.wait_in_mempools(n, [tx1.txid], timeout=30)
    # And one submitted in the middle (the next nonce, chained on the first).
    tx2 = u.make_transfer(alice, bob.pub, 2 * u.COIN, 5000, nonce + 1)
    assert_equal(n[1].rpc("sendrawtransaction", tx2.hex), tx2.txid, "txid")
    u.wait_in_mempools(n, [tx1.txid, tx2.txid], timeout=30)
    for node in n:
        assert_equal(sorted(node.rpc("getrawmempool")), sorted([tx1.txid, tx2.txid]), f"mempool of node{node.index}")
    # Mined at node2: every mempool empties, every node agrees on the balances.
    h = n[2].rpc("generatetoaddress", 1, miner.address)[0]
    u.wait_same_tip(n, timeout=30, tip=h)
    block = n[0].rpc("getblock", h)
    assert_true(tx1.txid in block["tx"] and tx2.txid in block["tx"], f"both transfers mined: {block['tx']}")
    framework.wait_until(lambda: all(node.rpc("getrawmempool") == [] for node in n), timeout=15,
                         what="empty mempools after the block")
    for node in n:
        assert_equal(u.crumbs(node.rpc("getaccount", bob.address)["balance"]), 5 * u.COIN, f"bob on node{node.index}")
        a = node.rpc("getaccount", alice.address)
        assert_equal(a["nonce"], nonce + 2, "alice's nonce")
        assert_equal(u.crumbs(a["balance"]), 50 * u.COIN - 5 * u.COIN - u.MIN_RELAY_FEE - 5000, "alice's balance")


def test_invalid_transaction_not_relayed(t):
    n = line(t)
    alice = u.Key("relay alice")
    bob = u.Key("relay bob")
    nonce = n[0].rpc("getaccount", alice.address)["nonce"]
    # More than she has: refused by the first node, so nobody else sees it.
    tx = u.make_transfer(alice, bob.pub, 1000 * u.COIN, u.MIN_RELAY_FEE, nonce)
    try:
        n[3].rpc("sendrawtransaction", tx.hex)
    except framework.RpcError:
        pass
    else:
        raise TestFailure("an overspending transfer was accepted")
    time.sleep(1)
    for node in n:
        assert_true(tx.txid not in node.rpc("getrawmempool"), f"overspend in mempool of node{node.index}")
        assert_equal(node.rpc("listbanned"), [], f"bans on node{node.index}")
    # The line is still up: nobody was disconnected for relaying what it had.
    for a, b in zip(n, n[1:]):
        assert_true(u.connected_to(a, b) and u.connected_to(b, a), f"node{a.index} <-> node{b.index}")


if __name__ == "__main__":
    u.ed25519_self_test()
    framework.main([test_line_connects, test_peerinfo_fields, test_block_reaches_everyone,
                    test_many_blocks_reach_everyone, test_transaction_reaches_every_mempool,
                    test_invalid_transaction_not_relayed])
