#!/usr/bin/env python3
"""Transaction relay under volume (issue 19): N transactions sent to node A; how many reach B.

Two regtest nodes on loopback, B connected to A only. `--senders` keys are funded by coinbases
(one block each), then every sender signs `--per-sender` transfers (at most the mempool's window
of 25 nonces) and all of them go to A by `sendrawtransaction` in JSON-RPC batches. The script then
watches B's mempool until it holds every transaction or `--timeout` passes, and prints one JSON
line: sent, on A, on B, seconds from the last send until B had them all (or null).

Run: python3 bench/relay_bench.py --build-dir build [--senders 800 --per-sender 25]
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "functional"))

import framework  # noqa: E402
import p2p_util as u  # noqa: E402

BATCH = 500


def fund(a, senders):
    for k in senders:
        a.rpc("generatetoaddress", 1, k.address)
    a.rpc("generatetoaddress", u.COINBASE_MATURITY + 1, u.Key("relay miner").address)


def send_batched(a, txs):
    for i in range(0, len(txs), BATCH):
        payload = [{"jsonrpc": "2.0", "id": j, "method": "sendrawtransaction", "params": [tx.hex]}
                   for j, tx in enumerate(txs[i:i + BATCH])]
        _, replies = a.post_json(payload)
        errors = [r["error"] for r in replies if r.get("error")]
        if errors:
            raise framework.TestFailure(f"sendrawtransaction refused: {errors[:3]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--senders", type=int, default=800)
    ap.add_argument("--per-sender", type=int, default=25)
    ap.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args()
    t = framework.TestRun(args.build_dir)
    try:
        a = u.net_node(t, ["-maxmempool=300"])
        b = u.net_node(t, [f"-connect={u.p2p_addr(a)}", "-maxmempool=300"])
        u.wait_connected(a, b)
        senders = [u.Key(f"relay sender {i}") for i in range(args.senders)]
        fund(a, senders)
        u.wait_same_tip([a, b], timeout=60)
        sink = u.Key("relay sink").pub
        txs = [u.make_transfer(k, sink, 1000 + n, u.MIN_RELAY_FEE, n)
               for k in senders for n in range(args.per_sender)]
        t0 = time.monotonic()
        send_batched(a, txs)
        sent_at = time.monotonic()
        want = len(txs)
        on_b = 0
        done_at = None
        for _ in range(100000):
            on_b = len(b.rpc("getrawmempool"))
            if on_b >= want:
                done_at = time.monotonic()
                break
            if time.monotonic() - sent_at > args.timeout:
                break
            time.sleep(0.25)
        print(json.dumps({
            "sent": want,
            "send_seconds": round(sent_at - t0, 2),
            "on_a": len(a.rpc("getrawmempool")),
            "on_b": on_b,
            "b_complete_after_last_send_s": None if done_at is None else round(done_at - sent_at, 2),
        }))
        return 0 if on_b >= want else 1
    finally:
        t.cleanup()


if __name__ == "__main__":
    sys.exit(main())
