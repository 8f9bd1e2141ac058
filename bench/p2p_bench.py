#!/usr/bin/env python3
"""P2P benchmarks on loopback (see docs/performance.md):
  1. time for a fresh node to sync a 2,000-block chain from one peer;
  2. time for a fresh node to sync cheese-bench's chain of 1,011 blocks holding 100,100 signed
     transfers from one peer (initial sync with signature checks, through the node's block queue);
  3. median time for a block to reach all nodes of a 10-node network.
Usage: bench/p2p_bench.py --build-dir build [--blocks 2000] [--nodes 10] [--rounds 20] [--no-transfers]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "functional"))
import framework  # noqa: E402

ADDRESS = "rchz1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqedx4de"


def node(run, extra):
    return run.node(extra_args=["-listen=1", "-notracker"] + extra)


def bench_sync(run, blocks):
    a = node(run, [])
    mined = 0
    while mined < blocks:
        n = min(500, blocks - mined)
        a.rpc("generatetoaddress", n, ADDRESS)
        mined += n
    tip = a.rpc("getbestblockhash")
    size = a.rpc("getblockchaininfo")["size_on_disk"]
    t0 = time.monotonic()
    b = node(run, [f"-connect=127.0.0.1:{a.p2p_port}"])
    framework.wait_until(lambda: b.rpc("getbestblockhash") == tip, timeout=300, interval=0.02, what="sync")
    secs = time.monotonic() - t0
    print(f"sync: {blocks} blocks ({size / 1e6:.1f} MB on disk at the source) in {secs:.2f} s "
          f"(including node start), {blocks / secs:.0f} blocks/s")
    a.stop()
    b.stop()


def bench_sync_transfers(run, build_dir):
    scratch = tempfile.mkdtemp(prefix="cheese-p2p-bench-")
    chain_file = os.path.join(scratch, "chain.sqlite")
    out = subprocess.run([os.path.join(build_dir, "bench", "cheese-bench"), "connect", "--keep", chain_file],
                         check=True, capture_output=True, text=True).stdout
    bound = max(float(x) for x in re.findall(r"all \d+ threads (\d+) /s", out))
    connect = re.search(r"transactions in [\d.]+ s: (\d+) tx/s", out).group(1)
    a = run.node(extra_args=["-listen=1", "-notracker"], start=False)
    os.makedirs(a.datadir, exist_ok=True)
    shutil.move(chain_file, os.path.join(a.datadir, "chain.sqlite"))
    shutil.rmtree(scratch, ignore_errors=True)
    a.start()
    blocks = a.rpc("getblockcount")
    txs = sum(a.rpc("getblock", a.rpc("getblockhash", h))["nTx"] - 1 for h in range(1, blocks + 1))
    tip = a.rpc("getbestblockhash")
    t0 = time.monotonic()
    b = node(run, [f"-connect=127.0.0.1:{a.p2p_port}"])
    framework.wait_until(lambda: b.rpc("getbestblockhash") == tip, timeout=600, interval=0.02, what="sync")
    secs = time.monotonic() - t0
    print(f"sync with transfers: {blocks} blocks, {txs} transfers in {secs:.2f} s (including node start): "
          f"{txs / secs:.0f} tx/s = {100 * txs / secs / bound:.0f}% of the Ed25519 bound ({bound:.0f} /s, "
          f"cheese-bench connect a moment before: {connect} tx/s)")
    a.stop()
    b.stop()


def bench_propagation(run, count, rounds):
    nodes = [node(run, [])]
    for i in range(1, count):
        # A ring plus a chord: each node dials the previous one and one further back.
        extra = [f"-addnode=127.0.0.1:{nodes[i - 1].p2p_port}"]
        if i >= 3:
            extra.append(f"-addnode=127.0.0.1:{nodes[i // 2].p2p_port}")
        nodes.append(node(run, extra))
    framework.wait_until(lambda: all(n.rpc("getconnectioncount") >= 1 for n in nodes), timeout=30,
                         what="all connected")
    times = []
    for r in range(rounds):
        miner = nodes[(r * 7) % count]
        t0 = time.monotonic()
        h = miner.rpc("generatetoaddress", 1, ADDRESS)[0]
        pending = set(range(count))
        deadline = t0 + 30
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                if nodes[i].rpc("getbestblockhash") == h:
                    pending.discard(i)
            time.sleep(0.002)
        if pending:
            raise RuntimeError(f"block {h} did not reach nodes {sorted(pending)}")
        times.append(time.monotonic() - t0)
    print(f"propagation: {count} nodes, {rounds} blocks: median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms (mined-to-everywhere, measured by polling RPC)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--blocks", type=int, default=2000)
    p.add_argument("--nodes", type=int, default=10)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--no-transfers", action="store_true", help="skip the sync of the chain with transfers")
    o = p.parse_args()
    run = framework.TestRun(o.build_dir)
    try:
        bench_sync(run, o.blocks)
        if not o.no_transfers:
            bench_sync_transfers(run, o.build_dir)
        bench_propagation(run, o.nodes, o.rounds)
    finally:
        run.cleanup()


if __name__ == "__main__":
    main()
