"""Large RPC results built off the io thread, over real HTTP (docs/rpc.md, "Large results and the
io thread"), and the io watchdog's getstallinfo.

- getrawmempool (both forms) and getblock (all verbosities) of a mempool and a block of signed
  transfers answer consistent results, also inside a batch and as legacy JSON-RPC 1.0;
- while a verbose getrawmempool of a few thousand transactions is being answered, getblockcount
  on another connection is answered (bounded in count, never timed);
- getstallinfo reports its bound and counters.
"""

import json
import socket
import threading

import framework
import p2p_util as u
from framework import assert_equal, assert_in, assert_true

BURN = "rchz1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqedx4de"
WINDOW = 25  # transactions one sender may have waiting


def fill_mempool(node, senders, label):
    keys = [u.Key(f"{label} {i}") for i in range(senders)]
    for k in keys:
        node.rpc("generatetoaddress", 1, k.address)
    node.rpc("generatetoaddress", u.COINBASE_MATURITY + 1, BURN)
    sink = u.Key(f"{label} sink").pub
    txs = [u.make_transfer(k, sink, u.COIN // 100, u.MIN_RELAY_FEE, n) for k in keys for n in range(WINDOW)]
    calls = [{"jsonrpc": "2.0", "id": i, "method": "sendrawtransaction", "params": [tx.hex]} for i, tx in enumerate(txs)]
    for i in range(0, len(calls), 500):
        status, replies = node.post_json(calls[i:i + 500])
        assert_equal(status, 200)
        assert_true(all(r.get("error") is None for r in replies), f"a transfer was refused: {replies[:2]}")
    return keys, txs


def test_results_are_consistent(t):
    node = t.node()
    _, txs = fill_mempool(node, 4, "consistent")
    ids = node.rpc("getrawmempool")
    assert_equal(sorted(ids), sorted(tx.txid for tx in txs))
    verbose = node.rpc("getrawmempool", True)
    assert_equal(list(verbose.keys()), ids, "verbose keys in the same order as the txids")
    entry = verbose[txs[0].txid]
    assert_equal(entry["size"], 153)
    assert_equal(entry["fee"], framework.Decimal("0.00001000"))
    assert_equal(entry["nonce"], 0)
    # Batch and legacy replies carry the same result.
    status, batch = node.post_json([{"jsonrpc": "2.0", "id": 1, "method": "getrawmempool"},
                                    {"jsonrpc": "2.0", "id": 2, "method": "getblockcount"}])
    assert_equal(batch[0]["result"], ids)
    assert_equal(batch[1]["result"], node.rpc("getblockcount"))
    status, legacy = node.post_json({"id": "x", "method": "getrawmempool", "params": [True]})
    assert_equal(legacy, {"result": verbose, "error": None, "id": "x"})
    # Mine them into one block: getblock at each verbosity.
    block_hash = node.rpc("generatetoaddress", 1, BURN)[0]
    v1 = node.rpc("getblock", block_hash, 1)
    v2 = node.rpc("getblock", block_hash, 2)
    raw = node.rpc("getblock", block_hash, 0)
    assert_equal(v1["nTx"], len(txs) + 1)
    assert_equal(v1["tx"], [tx["txid"] for tx in v2["tx"]])
    assert_equal(sorted(v1["tx"][1:]), sorted(ids))
    assert_equal(v1["size"], len(raw) // 2)
    assert_equal({k: v for k, v in v1.items() if k != "tx"}, {k: v for k, v in v2.items() if k != "tx"})
    assert_in(v2["tx"][1]["hex"], raw)
    framework.assert_raises_rpc(-8, "verbosity", node.rpc, "getblock", block_hash, 3)


def test_getblockcount_answered_during_a_big_read(t):
    node = t.node()
    fill_mempool(node, 120, "concurrent")  # 3,000 transactions: about 900 kB of verbose JSON
    height = node.rpc("getblockcount")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getrawmempool", "params": [True]}).encode()
    # The big read's client sends its request and does not read the reply until getblockcount has
    # been answered on a second connection: the node serves others while the big result is made
    # and sent.
    sock = socket.create_connection(("127.0.0.1", node.rpc_port), timeout=60)
    try:
        request = ((f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {node.auth_header()}\r\n"
                   f"Content-Type: application/json\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                   + body)
        sock.sendall(request)
        answered = [node.rpc("getblockcount") for _ in range(5)]
        assert_equal(answered, [height] * 5)
        reply = framework.read_all(sock, 60)
    finally:
        sock.close()
    assert_equal(framework.http_status(reply), 200)
    assert_in(b'"result":{', reply)


def test_getstallinfo(t):
    node = t.shared_node()
    info = node.rpc("getstallinfo")
    assert_equal(info["bound_ms"], 50)
    assert_equal(info["tick_ms"], 10)
    assert_true(info["stalls"] >= 0)
    assert_equal(info["stalls"], sum(task["stalls"] for task in info["tasks"].values()))
    if info["stalls"]:
        assert_in(info["longest_task"], info["tasks"])


if __name__ == "__main__":
    framework.main([test_results_are_consistent, test_getblockcount_answered_during_a_big_read, test_getstallinfo])
