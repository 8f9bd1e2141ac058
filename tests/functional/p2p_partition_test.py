"""A network split in two, both halves mine, they meet again: everyone follows the most work.

    group 1: node0 <-> node1        group 2: node2 <-> node3      (-connect inside each group)

Phase 0: a temporary link node1 -> node2 (addnode onetry) gives everyone the same funded history.
Phase 1: the link is cut (disconnectnode); group 1 mines 3 blocks holding alice's transfers,
         group 2 mines 5 blocks without them.
Phase 2: the link comes back (addnode onetry): all four end on group 2's tip, getchaintips shows
         group 1's branch as a valid fork, and alice's transfers are back in group 1's mempools.

Run: python3 p2p_partition_test.py --build-dir <cmake build dir>
"""

import framework
import p2p_util as u
from framework import assert_equal, assert_true, TestFailure

STATE = {}


def network(t):
    if "nodes" in STATE:
        return STATE["nodes"]
    n = [u.net_node(t, start=False) for _ in range(4)]
    for a, b in ((0, 1), (1, 0), (2, 3), (3, 2)):
        n[a].extra_args.append(f"-connect={u.p2p_addr(n[b])}")
    for node in n:
        node.start()
    u.wait_connected(n[0], n[1])
    u.wait_connected(n[2], n[3])
    STATE["nodes"] = n
    return n


def link(n):
    """The bridge between the groups: node1 dials node2 once."""
    n[1].rpc("addnode", u.p2p_addr(n[2]), "onetry")
    u.wait_connected(n[1], n[2])


def cut(n):
    for p in u.peers(n[1]):
        if p.get("listenport") == n[2].p2p_port:
            n[1].rpc("disconnectnode", "", p["id"])
    framework.wait_until(lambda: not u.connected_to(n[1], n[2]) and not u.connected_to(n[2], n[1]), timeout=10,
                         what="the bridge to close")


def groups_are_apart(n):
    for a in (0, 1):
        for b in (2, 3):
            if u.connected_to(n[a], n[b]) or u.connected_to(n[b], n[a]):
                return False
    return True


def test_shared_history(t):
    n = network(t)
    assert_true(groups_are_apart(n), "the groups start apart")
    link(n)
    alice = u.Key("partition alice")
    miner = u.Key("partition miner")
    h = n[0].rpc("generatetoaddress", 2, alice.address)[-1]
    u.wait_same_tip(n, timeout=30, tip=h)  # else node3 would mine a competing branch
    h = n[3].rpc("generatetoaddress", u.COINBASE_MATURITY + 1, miner.address)[-1]
    u.wait_same_tip(n, timeout=30, tip=h)
    assert_equal(u.crumbs(n[1].rpc("getaccount", alice.address)["balance"]), 100 * u.COIN, "alice's balance")
    STATE["fork_height"] = n[0].rpc("getblockcount")
    STATE["fork_hash"] = h


def test_split_and_mine(t):
    n = network(t)
    if "fork_hash" not in STATE:
        raise TestFailure("needs test_shared_history")
    cut(n)
    assert_true(groups_are_apart(n), "the groups are apart")
    alice = u.Key("partition alice")
    bob = u.Key("partition bob")
    miner1 = u.Key("partition group1 miner")
    miner2 = u.Key("partition group2 miner")
    nonce = n[0].rpc("getaccount", alice.address)["nonce"]
    txs = [u.make_transfer(alice, bob.pub, (i + 1) * u.COIN, u.MIN_RELAY_FEE + i, nonce + i) for i in range(3)]
    for tx in txs:
        assert_equal(n[0].rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
    u.wait_in_mempools(n[:2], [tx.txid for tx in txs], timeout=20)
    # Group 1: 3 blocks, the first confirming alice's transfers.
    hashes1 = n[0].rpc("generatetoaddress", 3, miner1.address)
    u.wait_same_tip(n[:2], timeout=30, tip=hashes1[-1])
    mined = n[1].rpc("getblock", hashes1[0])["tx"]
    for tx in txs:
        assert_true(tx.txid in mined, "alice's transfers confirmed in group 1")
    assert_equal(u.crumbs(n[1].rpc("getaccount", bob.address)["balance"]), 6 * u.COIN, "bob paid in group 1")
    # Group 2: 5 blocks, never saw the transfers.
    hashes2 = n[3].rpc("generatetoaddress", 5, miner2.address)
    u.wait_same_tip(n[2:], timeout=30, tip=hashes2[-1])
    for node in n[2:]:
        assert_equal(node.rpc("getrawmempool"), [], f"group 2 mempool on node{node.index}")
        assert_equal(u.crumbs(node.rpc("getaccount", bob.address)["balance"]), 0, "bob unpaid in group 2")
    assert_true(groups_are_apart(n), "still apart after mining")
    assert_true(n[0].rpc("getbestblockhash") != n[2].rpc("getbestblockhash"), "two different tips")
    STATE.update(txs=txs, hashes1=hashes1, hashes2=hashes2)


def test_reconnect_converges_on_most_work(t):
    n = network(t)
    if "hashes2" not in STATE:
        raise TestFailure("needs test_split_and_mine")
    hashes1, hashes2, txs = STATE["hashes1"], STATE["hashes2"], STATE["txs"]
    fork_height = STATE["fork_height"]
    link(n)
    u.wait_same_tip(n, timeout=60, tip=hashes2[-1])
    for node in n:
        assert_equal(node.rpc("getblockcount"), fork_height + 5, f"height on node{node.index}")
        assert_equal(node.rpc("getblockhash", fork_height + 1), hashes2[0], "first block of the winning branch")
    # Group 1 (which reorged) shows its own branch as a valid fork of length 3.
    for node in n[:2]:
        tips = {tip["hash"]: tip for tip in node.rpc("getchaintips")}
        assert_equal(tips[hashes2[-1]]["status"], "active", "the winning tip")
        assert_in_tips = hashes1[-1] in tips
        assert_true(assert_in_tips, f"node{node.index} getchaintips lacks the losing tip: {list(tips)}")
        assert_equal(tips[hashes1[-1]]["status"], "valid-fork", "the losing tip")
        assert_equal(tips[hashes1[-1]]["branchlen"], 3, "the losing branch's length")
        assert_equal(tips[hashes1[-1]]["height"], fork_height + 3, "the losing tip's height")
    # Group 2 learned the losing branch's headers at most (it may fetch nothing of it): whatever
    # it lists for that branch is not active.
    for node in n[2:]:
        for tip in node.rpc("getchaintips"):
            if tip["hash"] != hashes2[-1]:
                assert_true(tip["status"] != "active", f"node{node.index}: {tip}")
    # The reorged nodes put alice's transfers back in their mempools and announce them again,
    # so group 2, which never saw them, pools them too.
    txids = [tx.txid for tx in txs]
    u.wait_in_mempools(n, txids, timeout=30)
    for node in n:
        assert_equal(sorted(node.rpc("getrawmempool")), sorted(txids), f"mempool of node{node.index}")
    bob = u.Key("partition bob")
    for node in n:
        assert_equal(u.crumbs(node.rpc("getaccount", bob.address)["balance"]), 0, f"bob unpaid on node{node.index}")
        assert_equal(node.rpc("listbanned"), [], f"bans on node{node.index}")


def test_transfers_confirm_again(t):
    n = network(t)
    if "txs" not in STATE:
        raise TestFailure("needs the earlier tests")
    txs = STATE["txs"]
    # Mined by a node that reorged (it holds them in its mempool) on top of the winning chain.
    h = n[1].rpc("generatetoaddress", 1, u.Key("partition group1 miner").address)[0]
    u.wait_same_tip(n, timeout=30, tip=h)
    mined = n[0].rpc("getblock", h)["tx"]
    for tx in txs:
        assert_true(tx.txid in mined, f"transfer {tx.txid} confirmed on the winning chain")
    framework.wait_until(lambda: all(node.rpc("getrawmempool") == [] for node in n), timeout=15,
                         what="empty mempools")
    bob = u.Key("partition bob")
    for node in n:
        assert_equal(u.crumbs(node.rpc("getaccount", bob.address)["balance"]), 6 * u.COIN, f"bob on node{node.index}")


def test_second_split_other_side_wins(t):
    """A second split where group 1 mines more: this time group 2 reorgs onto group 1's branch."""
    n = network(t)
    if "txs" not in STATE:
        raise TestFailure("needs the earlier tests")
    cut(n)
    base = n[0].rpc("getblockcount")
    miner1 = u.Key("partition group1 miner")
    miner2 = u.Key("partition group2 miner")
    h1 = n[1].rpc("generatetoaddress", 4, miner1.address)
    h2 = n[2].rpc("generatetoaddress", 2, miner2.address)
    u.wait_same_tip(n[:2], timeout=30, tip=h1[-1])
    u.wait_same_tip(n[2:], timeout=30, tip=h2[-1])
    link(n)
    u.wait_same_tip(n, timeout=60, tip=h1[-1])
    for node in n:
        assert_equal(node.rpc("getblockcount"), base + 4, f"height on node{node.index}")
    tips = {tip["hash"]: tip for tip in n[3].rpc("getchaintips")}
    assert_equal(tips[h2[-1]]["status"], "valid-fork", "group 2's own branch after losing")
    assert_equal(tips[h2[-1]]["branchlen"], 2, "its length")


if __name__ == "__main__":
    framework.main([test_shared_history, test_split_and_mine, test_reconnect_converges_on_most_work,
                    test_transfers_confirm_again, test_second_split_other_side_wins])
