"""Concurrent sends from one wallet (issue 18): every acknowledged send confirms.

Rounds of several simultaneous `send` / `sendtoaddress` calls (threads, each on its own HTTP
connection, different amounts and fees) from one wallet with one funded address. Before the
wallet serialised its sends, two of them could choose the same nonce and the one with the higher
fee replaced the other in the mempool: a returned txid never confirmed. Now, after each round's
block, every returned txid is confirmed, listtransactions shows each, and the balances of payer
and payee add up to the crumb. A send that a copy of the same keys elsewhere made impossible (its
nonce used by another transaction that confirmed) is kept, with the reason. The queue's bound (kMaxQueuedWalletSends) is tested in
tests/daemon/wallet_send_test.cpp.

Run: python3 wallet_concurrent_send_test.py --build-dir <cmake build dir>
"""

import json
import threading
from decimal import Decimal

import framework
import p2p_util as u
from framework import RpcError, assert_equal, assert_in, assert_true, parse_json, wait_until

ROUNDS = 20
SENDERS = 5  # simultaneous calls per round
MATURITY = 10  # regtest coinbase maturity
REWARD = Decimal("50")
DEFAULT_FEE = Decimal("0.0001")  # the wallet's default fee (docs/wallet.md)
THREAD_TIMEOUT = 60.0


def call(node, path, method, params):
    """One JSON-RPC call on its own connection (thread-safe, unlike Node.rpc's shared id)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, default=str)
    _, _, data = node.http("POST", path, body)
    reply = parse_json(data)
    if reply.get("error") is not None:
        return None, reply["error"]
    return reply["result"], None


def one_send(node, to, rnd, i):
    """Sender i of round rnd: even ones `send` with their own fee, odd ones `sendtoaddress`."""
    amount = Decimal("0.1") * (i + 1) + Decimal(rnd) / 1000
    if i % 2 == 0:
        fee = DEFAULT_FEE * (i + 1)  # 0.0001, 0.0003, 0.0005: each would replace the one before
        result, err = call(node, "/wallet/alice", "send", [to, str(amount), str(fee)])
        if err is None:
            assert_equal(len(result["txids"]), 1, "one funded address: one transaction")
            return result["txid"], amount, Decimal(str(result["fee"])), None
        return None, amount, fee, err
    result, err = call(node, "/wallet/alice", "sendtoaddress", [to, str(amount)])
    return result, amount, DEFAULT_FEE, err


def confirmed(wallet, txid):
    """True when gettransaction shows the transaction with at least one confirmation."""
    try:
        return wallet.gettransaction(txid)["confirmations"] >= 1
    except RpcError:  # forgotten: the wallet no longer knows it
        return False


def run_round(node, to, rnd):
    """SENDERS simultaneous sends; returns [(txid or None, amount, fee, error)]."""
    results = [None] * SENDERS
    start = threading.Barrier(SENDERS)

    def worker(i):
        start.wait(timeout=THREAD_TIMEOUT)
        try:
            results[i] = one_send(node, to, rnd, i)
        except Exception as e:  # noqa: BLE001 - reported as that sender's error
            results[i] = (None, Decimal(0), Decimal(0), {"code": None, "message": repr(e)})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(SENDERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=THREAD_TIMEOUT)
        assert_true(not th.is_alive(), f"round {rnd}: a send did not return within {THREAD_TIMEOUT} s")
    return results


def test_concurrent_sends_all_confirm(t):
    node = t.node()
    node.rpc("createwallet", "alice")
    node.rpc("createwallet", "bob")
    node.rpc("createwallet", "miner")
    alice_addr = node.wallet("alice").getnewaddress("mining")
    bob_addr = node.wallet("bob").getnewaddress("from alice")
    miner_addr = node.wallet("miner").getnewaddress("rewards")
    # 11 rewards to alice, all matured by 10 more blocks to the miner: alice's balance then moves
    # only with her sends.
    node.rpc("generatetoaddress", MATURITY + 1, alice_addr)
    node.rpc("generatetoaddress", MATURITY, miner_addr)
    alice, bob = node.wallet("alice"), node.wallet("bob")
    start_alice = alice.getbalances()["mine"]["trusted"]
    assert_equal(start_alice, (MATURITY + 1) * REWARD)

    acknowledged = []  # (txid, amount, fee)
    lost_rounds, lost, refused = 0, 0, []
    for rnd in range(ROUNDS):
        results = run_round(node, bob_addr, rnd)
        for txid, amount, fee, err in results:
            if err is not None:
                refused.append((rnd, err))
            else:
                acknowledged.append((txid, amount, fee))
        node.rpc("generatetoaddress", 1, miner_addr)
        round_lost = sum(1 for txid, _, _, err in results if err is None and not confirmed(alice, txid))
        if round_lost:
            lost_rounds += 1
            lost += round_lost
    sent = len(acknowledged)
    print(f"    {ROUNDS} rounds of {SENDERS} simultaneous sends: {sent} acknowledged, {len(refused)} refused, "
          f"{lost} acknowledged but unconfirmed, in {lost_rounds} of {ROUNDS} rounds")
    for rnd, err in refused[:5]:
        print(f"    round {rnd}: refused: {err}")
    assert_equal(lost_rounds, 0, f"rounds that lost an acknowledged send ({lost} sends lost)")
    assert_equal(refused, [], "sends refused although the wallet had the funds")
    assert_equal(sent, ROUNDS * SENDERS)
    assert_equal(len({txid for txid, _, _ in acknowledged}), sent, "distinct txids")

    # Every acknowledged send is confirmed and listed; the balances add up to the crumb.
    listed = {x["txid"]: x for x in alice.listtransactions(10 * sent) if x["category"] == "send"}
    for txid, amount, fee in acknowledged:
        assert_true(txid in listed, f"listtransactions keeps {txid}")
        assert_true(listed[txid]["confirmations"] >= 1, f"{txid} confirmed")
        assert_equal(listed[txid]["amount"], -amount, f"{txid} amount")
        assert_equal(listed[txid]["fee"], -fee, f"{txid} fee")
    spent = sum(a + f for _, a, f in acknowledged)
    received = sum(a for _, a, _ in acknowledged)
    b = alice.getbalances()["mine"]
    assert_equal(b["trusted"], start_alice - spent, "alice's balance")
    assert_equal(b["pending_spend"], Decimal(0))
    assert_equal(bob.getbalances()["mine"]["trusted"], received, "bob's balance")
    assert_equal(node.rpc("getmempoolinfo")["size"], 0, "nothing left waiting")


def link(a, b):
    a.rpc("addnode", u.p2p_addr(b), "onetry")
    u.wait_connected(a, b)


def cut(a, b):
    for p in u.peers(a):
        if p.get("listenport") == b.p2p_port or p["addr"] == u.p2p_addr(b):
            a.rpc("disconnectnode", "", p["id"])
    wait_until(lambda: not u.connected_to(a, b) and not u.connected_to(b, a), timeout=10, what="the link to close")


def test_a_send_that_can_no_longer_confirm_is_kept_with_its_reason(t):
    """The wallet is restored on a second node, which spends the same nonce first: the first
    node's acknowledged send can never confirm, and its wallet says so instead of forgetting it."""
    n0, n1 = u.net_node(t), u.net_node(t)
    phrase = n0.rpc("createwallet", "carol")["mnemonic"]
    carol_addr = n0.wallet("carol").getnewaddress("mining")
    n0.rpc("generatetoaddress", MATURITY + 1, carol_addr)
    n1.rpc("restorewallet", "carol", phrase)
    n1.rpc("createwallet", "dave")
    dave_addr = n1.wallet("dave").getnewaddress("from carol")
    link(n1, n0)
    u.wait_same_tip([n0, n1])
    wait_until(lambda: n1.wallet("carol").getbalances()["mine"]["trusted"] == REWARD, timeout=10,
               what="the restored wallet sees the matured reward")
    cut(n1, n0)
    # Both copies pay with nonce 0 of the same address; the second node's payment confirms.
    ours = n0.wallet("carol").sendtoaddress(dave_addr, "1")
    theirs = n1.wallet("carol").sendtoaddress(dave_addr, "2")
    assert_true(ours != theirs, "two different payments")
    n1.rpc("generatetoaddress", 1, dave_addr)
    link(n1, n0)
    u.wait_same_tip([n0, n1])
    carol = n0.wallet("carol")
    wait_until(lambda: not carol.gettransaction(ours)["in_mempool"], timeout=10, what="the send to leave the mempool")
    g = carol.gettransaction(ours)
    assert_equal(g["confirmations"], 0)
    assert_equal(g["conflicted"], True)
    assert_in("was used by another transaction on the active chain", g["reason"])
    listed = [x for x in carol.listtransactions(100) if x["txid"] == ours]
    assert_equal(len(listed), 1, "listtransactions keeps the acknowledged send")
    assert_equal((listed[0]["category"], listed[0]["conflicted"], listed[0]["in_mempool"]), ("send", True, False))
    assert_equal(carol.gettransaction(theirs)["confirmations"], 1)
    # It is not counted as spent, and not offered again.
    assert_equal(carol.getbalances()["mine"]["pending_spend"], Decimal(0))
    # Height 12 matured the reward of height 2: two rewards, less the payment that confirmed.
    assert_equal(carol.getbalances()["mine"]["trusted"], 2 * REWARD - 2 - DEFAULT_FEE)
    assert_true(ours not in n0.rpc("getrawmempool"), "not in the mempool")


if __name__ == "__main__":
    framework.main([test_concurrent_sends_all_confirm, test_a_send_that_can_no_longer_confirm_is_kept_with_its_reason])
