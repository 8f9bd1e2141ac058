"""Wallets on two connected regtest nodes: create, mine, send, exact balances on both sides,
refusals that change nothing, several wallets and routing, restore from the recovery phrase on
the second node, encryption with timed relock, a file without secrets, restart, and kill -9
during sends.

Run: python3 wallet_test.py --build-dir <cmake build dir>
"""

import base64
import os
import random
import sys
import threading
import time
from decimal import Decimal

import framework
import p2p_util as u
from framework import RpcError, TestFailure, assert_equal, assert_in, assert_raises_rpc, assert_true, wait_until

try:
    from mnemonic import Mnemonic
except ImportError:  # Debian's python3-mnemonic, when the tests run under another Python
    sys.path.append("/usr/lib/python3/dist-packages")
    from mnemonic import Mnemonic

REWARD = Decimal("50")
MATURITY = 10  # regtest coinbase maturity
FEE = Decimal("0.0001")  # the default wallet fee (docs/wallet.md)
STATE = {}


def pair(t):
    """node0 and node1, connected; node0 holds wallet alice with 12 mined blocks."""
    if "nodes" in STATE:
        return STATE["nodes"]
    n0 = u.net_node(t)
    n1 = u.net_node(t, extra=[f"-addnode={u.p2p_addr(n0)}"])
    u.wait_connected(n0, n1)
    STATE["nodes"] = (n0, n1)
    return n0, n1


def balances(w):
    return w.getbalances()["mine"]


def test_create_shows_a_valid_phrase_once(t):
    n0, _ = pair(t)
    created = n0.rpc("createwallet", "alice")
    words = created["mnemonic"].split()
    assert_equal(len(words), 24, "24 words")
    assert_true(Mnemonic("english").check(created["mnemonic"]), "python3-mnemonic accepts the phrase")
    assert_equal(created["encrypted"], False)
    STATE["alice_phrase"] = created["mnemonic"]
    assert_equal(n0.rpc("listwallets"), ["alice"])
    # The phrase is not shown again anywhere.
    info = n0.rpc("getwalletinfo")
    assert_true(created["mnemonic"] not in str(info), "getwalletinfo has no phrase")
    assert_raises_rpc(-35, "already", n0.rpc, "createwallet", "alice")
    assert_raises_rpc(-8, "", n0.rpc, "createwallet", "../evil")
    assert_raises_rpc(-8, "empty", n0.rpc, "createwallet", "x", "")


def test_mine_pays_the_wallet_and_matures(t):
    n0, n1 = pair(t)
    hashes = n0.rpc("mine", 12)
    assert_equal(len(hashes), 12)
    u.wait_same_tip([n0, n1])
    b = balances(n0.wallet("alice"))
    # Coinbases of heights 1 and 2 are credited at height 12 (maturity 10); 3..12 are immature.
    assert_equal(b["trusted"], 2 * REWARD)
    assert_equal(b["immature"], 10 * REWARD)
    assert_equal(b["untrusted_pending"], Decimal(0))
    txs = n0.rpc("listtransactions", 100)
    assert_equal(len(txs), 12)
    cats = [x["category"] for x in txs]
    assert_equal(cats.count("generate"), 2, "matured coinbases")
    assert_equal(cats.count("immature"), 10)
    info = n0.rpc("getwalletinfo")
    assert_equal(info["txcount"], 12)
    assert_equal(info["mining_address"], txs[0]["address"])


def test_send_and_exact_balances_on_both_sides(t):
    n0, n1 = pair(t)
    n1.rpc("createwallet", "bob")
    bob_addr = n1.rpc("getnewaddress", "from alice")
    alice = n0.wallet("alice")
    before = balances(alice)
    sent = alice.send(bob_addr, "30")
    assert_equal(sent["fee"], FEE)
    tx2 = alice.sendtoaddress(bob_addr, "30")
    assert_true(tx2 != sent["txid"], "two identical payments are two transactions")
    u.wait_in_mempools([n0, n1], [sent["txid"], tx2])
    a = balances(alice)
    assert_equal(a["trusted"], before["trusted"] - 60 - 2 * FEE)
    assert_equal(a["pending_spend"], 60 + 2 * FEE)
    wait_until(lambda: balances(n1.wallet("bob"))["untrusted_pending"] == 60, timeout=10,
               what="bob sees 60 CHZ incoming")
    assert_equal(balances(n1.wallet("bob"))["trusted"], Decimal(0))
    # Consecutive nonces from the same address.
    nonces = sorted(n0.rpc("getrawtransaction", x, True)["nonce"] for x in (sent["txid"], tx2))
    assert_equal(nonces[1], nonces[0] + 1)
    n0.rpc("mine", 1)
    u.wait_same_tip([n0, n1])
    b = balances(n1.wallet("bob"))
    assert_equal(b["trusted"], Decimal(60))
    assert_equal(b["untrusted_pending"], Decimal(0))
    a = balances(alice)
    # Height 13: the coinbase of height 3 matures; the new one pays reward + both fees.
    assert_equal(a["trusted"], 3 * REWARD - 60 - 2 * FEE)
    assert_equal(a["immature"], 10 * REWARD + 2 * FEE)
    assert_equal(a["pending_spend"], Decimal(0))
    bob_txs = n1.rpc("listtransactions")
    assert_equal([x["category"] for x in bob_txs], ["receive", "receive"])
    assert_true(all(x["confirmations"] == 1 and x["amount"] == 30 for x in bob_txs), "confirmed receives")
    alice_sends = [x for x in n0.rpc("listtransactions", 100) if x["category"] == "send"]
    assert_equal(len(alice_sends), 2)
    assert_true(all(x["amount"] == -30 and x["fee"] == -FEE and x["address"] == bob_addr for x in alice_sends),
                "send entries")
    g = n0.rpc("gettransaction", sent["txid"])
    assert_equal(g["net"], Decimal(-30))
    assert_equal(g["wallet_fee"], -FEE)
    assert_equal(g["details"][0]["category"], "send")
    # Through the CLI, as a user would.
    code, out, err = n1.cli("-rpcwallet=bob", "getbalance")
    assert_equal((code, out.strip()), (0, "60.00000000"), err)


def test_refusals_change_nothing(t):
    n0, n1 = pair(t)
    alice = n0.wallet("alice")
    bob_addr = n1.wallet("bob").getnewaddress()
    before = (balances(alice), n0.rpc("getrawmempool"), n0.rpc("getwalletinfo")["txcount"])
    testnet_addr = u.bech32m_encode("tchz", bytes(range(32)))
    cases = [
        (-6, "Insufficient funds", ("send", bob_addr, "100000")),
        (-5, "Invalid address", ("send", "rchz1notanaddress", "1")),
        (-5, "network", ("send", testnet_addr, "1")),
        (-3, "above 0", ("send", bob_addr, "0")),
        (-3, "negative", ("send", bob_addr, -1)),
        (-3, "8 decimal", ("send", bob_addr, "0.000000001")),
        (-3, "", ("send", bob_addr, "abc")),
        (-8, "fee", ("send", bob_addr, "1", "5")),
        (-8, "fee", ("send", bob_addr, "1", "0.00000001")),
        (-6, "Insufficient", ("sendtoaddress", bob_addr, "21000000")),
    ]
    for code, msg, (method, *params) in cases:
        assert_raises_rpc(code, msg, getattr(alice, method), *params)
    assert_equal((balances(alice), n0.rpc("getrawmempool"), n0.rpc("getwalletinfo")["txcount"]), before,
                 "nothing changed")


def test_several_wallets_need_a_route(t):
    n0, _ = pair(t)
    n0.rpc("createwallet", "spare")
    assert_equal(sorted(n0.rpc("listwallets")), ["alice", "spare"])
    assert_raises_rpc(-19, "Wallet file not specified", n0.rpc, "getbalance")
    assert_raises_rpc(-18, "not loaded", n0.wallet("nobody").getbalance)
    assert_equal(n0.wallet("spare").getbalance(), Decimal(0))
    n0.rpc("unloadwallet", "spare")
    assert_equal(n0.rpc("listwallets"), ["alice"])
    assert_in({"name": "spare"}, n0.rpc("listwalletdir")["wallets"])
    assert_raises_rpc(-35, "already loaded", n0.rpc, "loadwallet", "alice")
    assert_raises_rpc(-18, "not found", n0.rpc, "loadwallet", "missing")
    n0.rpc("getbalance")  # one wallet again: no route needed


def test_restore_on_second_node(t):
    n0, n1 = pair(t)
    # A second address of alice that has received nothing still comes back (keypool look-ahead)
    # when later ones are used; pay the third address so the scan finds the gap.
    alice = n0.wallet("alice")
    second = alice.getnewaddress()
    third = alice.getnewaddress()
    txid = alice.send(third, "5")["txid"]
    u.wait_in_mempools([n0, n1], [txid])
    n0.rpc("mine", 1)
    u.wait_same_tip([n0, n1])
    restored = n1.rpc("restorewallet", "alice2", STATE["alice_phrase"])
    assert_equal(restored["name"], "alice2")
    a2 = n1.wallet("alice2")
    addresses_0 = [x["address"] for x in alice.listaddresses()]
    addresses_1 = [x["address"] for x in a2.listaddresses()]
    assert_equal(addresses_1, addresses_0, "same addresses in the same order")
    assert_in(second, addresses_1)
    assert_equal(balances(a2), balances(alice), "same balances after the rescan")
    assert_equal(n1.wallet("alice2").getwalletinfo()["txcount"], alice.getwalletinfo()["txcount"])
    assert_raises_rpc(-5, "", n1.rpc, "restorewallet", "bad", "abandon " * 23 + "zoo")
    # A rescan, whole or from a height, finds the same history.
    before = (balances(a2), a2.listtransactions(1000))
    tip = n1.rpc("getblockcount")
    assert_equal(a2.rescanblockchain(), {"start_height": 0, "stop_height": tip})
    assert_equal((balances(a2), a2.listtransactions(1000)), before, "full rescan")
    assert_equal(a2.rescanblockchain(tip - 2)["start_height"], tip - 2)
    assert_equal((balances(a2), a2.listtransactions(1000)), before, "partial rescan")
    assert_raises_rpc(-8, "above the tip", a2.rescanblockchain, tip + 1)
    assert_raises_rpc(-8, "negative", a2.rescanblockchain, -1)


def test_encryption_relock_and_file_has_no_secrets(t):
    n0, n1 = pair(t)
    created = n1.rpc("createwallet", "carol")
    phrase = created["mnemonic"]
    carol = n1.wallet("carol")
    addr = carol.getnewaddress()
    # Fund carol from alice.
    txid = n0.wallet("alice").send(addr, "3")["txid"]
    u.wait_in_mempools([n0, n1], [txid])
    n0.rpc("mine", 1)
    u.wait_same_tip([n0, n1])
    wait_until(lambda: balances(carol)["trusted"] == 3, timeout=10, what="carol funded")
    carol.encryptwallet("correct horse")
    info = carol.getwalletinfo()
    assert_equal((info["encrypted"], info["unlocked_until"]), (True, 0))
    bob_addr = n1.wallet("bob").getnewaddress()
    assert_raises_rpc(-13, "walletpassphrase", carol.send, bob_addr, "1")
    assert_raises_rpc(-14, "incorrect", carol.walletpassphrase, "wrong horse", 10)
    # A locked wallet still hands out addresses from its keypool.
    carol.getnewaddress()
    carol.walletpassphrase("correct horse", 2)
    assert_true(carol.getwalletinfo()["unlocked_until"] > 0, "unlocked")
    carol.send(bob_addr, "1")
    wait_until(lambda: carol.getwalletinfo()["unlocked_until"] == 0, timeout=10, what="relock after 2 s")
    assert_raises_rpc(-13, "walletpassphrase", carol.send, bob_addr, "1")
    carol.walletpassphrasechange("correct horse", "battery staple")
    assert_raises_rpc(-14, "incorrect", carol.walletpassphrase, "correct horse", 10)
    carol.walletpassphrase("battery staple", 10**10)  # clamped to kMaxUnlockSeconds, as bitcoind does
    until = carol.getwalletinfo()["unlocked_until"]
    assert_true(abs(until - time.time() - 100_000_000) < 60, f"unlock clamped to 1e8 s (got {until})")
    assert_raises_rpc(-8, "negative", carol.walletpassphrase, "battery staple", -1)
    carol.walletlock()
    assert_equal(carol.getwalletinfo()["unlocked_until"], 0)
    assert_raises_rpc(-15, "unencrypted", n1.wallet("bob").walletlock)
    # The file holds neither the phrase, the entropy nor the seed, in any encoding.
    path = os.path.join(n1.datadir, "wallets", "carol.wallet")
    with open(path, "rb") as f:
        data = f.read()
    m = Mnemonic("english")
    entropy = bytes(m.to_entropy(phrase))
    seed = Mnemonic.to_seed(phrase)
    for secret in (phrase.encode(), " ".join(phrase.split()[:3]).encode(), entropy, seed):
        for form in (secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)):
            assert_true(form not in data, "a secret is in the wallet file")
    assert_equal(os.stat(path).st_mode & 0o777, 0o600, "wallet file mode")
    # A backup is a loadable wallet.
    backup = os.path.join(n1.base_dir, "carol-backup.wallet")
    carol.backupwallet(backup)
    assert_equal(os.stat(backup).st_mode & 0o777, 0o600, "backup mode")


def test_restart_keeps_wallets_and_balances(t):
    n0, n1 = pair(t)
    before = {w: balances(n1.wallet(w)) for w in n1.rpc("listwallets")}
    n1.restart()
    assert_equal(sorted(n1.rpc("listwallets")), sorted(before))
    u.wait_connected(n0, n1)
    u.wait_same_tip([n0, n1])
    for w, b in before.items():
        wait_until(lambda: balances(n1.wallet(w)) == b, timeout=15, what=f"{w} balances after restart")


def test_kill_during_sends_leaves_a_consistent_wallet(t):
    n0, n1 = pair(t)
    n1.rpc("unloadwallet", "alice2")  # spends with alice's keys must come from one node only
    node = n0
    bob_addr = n1.wallet("bob").getnewaddress()
    rng = random.Random(7)
    total_sent = 0
    for round_ in range(4):
        stop = threading.Event()
        sent = []

        def spam():
            for _ in range(200):
                if stop.is_set():
                    return
                try:
                    sent.append(node.wallet("alice").send(bob_addr, "0.01")["txid"])
                except (RpcError, OSError, framework.HttpError, ValueError):
                    return

        th = threading.Thread(target=spam)
        th.start()
        time.sleep(0.05 + rng.random() * 0.3)
        node.kill()
        stop.set()
        th.join(timeout=30)
        assert_true(not th.is_alive(), "sender thread stopped")
        total_sent += len(sent)
        node.start()
        assert_equal(node.rpc("listwallets"), ["alice"], f"round {round_}: wallet loads after kill -9")
        info = node.rpc("getwalletinfo")
        txs = node.rpc("listtransactions", 100000)
        assert_equal(len(txs), info["txcount"])
        # Every acknowledged send is in the wallet; the unconfirmed ones are back in the mempool.
        known = {x["txid"] for x in txs}
        missing = [x for x in sent if x not in known]
        assert_equal(missing, [], f"round {round_}: acknowledged sends missing from the wallet")

        def resubmitted():
            pool = set(node.rpc("getrawmempool"))
            return all(x["txid"] in pool for x in node.rpc("listtransactions", 100000)
                       if x["category"] == "send" and x["confirmations"] == 0)

        wait_until(resubmitted, timeout=20, what="unconfirmed sends back in the mempool")
        b = balances(node.wallet("alice"))
        pool = node.rpc("getrawmempool", True)
        pending = sum((Decimal(str(e["amount"])) + Decimal(str(e["fee"])) for e in pool.values()
                       if e.get("from") in {a["address"] for a in node.rpc("listaddresses")}), Decimal(0))
        assert_equal(b["pending_spend"], pending, "pending spend = what the mempool holds")
        u.wait_connected(n0, n1)
    assert_true(total_sent > 0, "some sends were acknowledged before the kills")
    print(f"    {total_sent} sends acknowledged over 4 kill -9 rounds")
    n0.rpc("mine", 1)
    u.wait_same_tip([n0, n1])
    assert_equal(balances(n0.wallet("alice"))["pending_spend"], Decimal(0))


def test_reorg_unconfirms_and_orphans(t):
    """A longer chain mined elsewhere replaces everything: the wallets follow it."""
    n0, n1 = pair(t)
    n2 = u.net_node(t)
    throwaway = u.bech32m_encode("rchz", bytes([7]) * 32)
    height = n0.rpc("getblockcount")
    u.generate(n2, height + 5, throwaway)
    n1.rpc("addnode", u.p2p_addr(n2), "onetry")
    tip = u.wait_same_tip([n0, n1, n2])
    alice = n0.wallet("alice")
    wait_until(lambda: alice.getwalletinfo()["lastprocessedblock"]["hash"] == tip, timeout=20,
               what="alice synced to the new tip")
    a = balances(alice)
    assert_equal((a["trusted"], a["immature"], a["confirmed"]), (Decimal(0), Decimal(0), Decimal(0)))
    txs = alice.listtransactions(100000)
    assert_true(all(x["confirmations"] == 0 for x in txs), "nothing of alice is confirmed any more")
    gens = [x for x in txs if x["txid"] and x["category"] in ("generate", "immature", "orphan")]
    assert_true(gens and all(x["category"] == "orphan" for x in gens), "coinbases of the old chain are orphans")
    bob = n1.wallet("bob")
    wait_until(lambda: bob.getwalletinfo()["lastprocessedblock"]["hash"] == tip, timeout=20, what="bob synced")
    assert_equal(balances(bob)["trusted"], Decimal(0))
    bob_txs = bob.listtransactions(1000)
    assert_true(all(x["confirmations"] == 0 for x in bob_txs), "bob's receives unconfirmed")
    # The wallet still shows a transaction that is neither pooled nor confirmed.
    gone = [x for x in bob_txs if not x["in_mempool"]][0]
    g = bob.gettransaction(gone["txid"])
    assert_equal((g["confirmations"], g["in_mempool"], g["details"][0]["category"]), (0, False, "receive"))


if __name__ == "__main__":
    framework.main([
        test_create_shows_a_valid_phrase_once,
        test_mine_pays_the_wallet_and_matures,
        test_send_and_exact_balances_on_both_sides,
        test_refusals_change_nothing,
        test_several_wallets_need_a_route,
        test_restore_on_second_node,
        test_encryption_relock_and_file_has_no_secrets,
        test_restart_keeps_wallets_and_balances,
        test_kill_during_sends_leaves_a_consistent_wallet,
        test_reorg_unconfirms_and_orphans,
    ])
