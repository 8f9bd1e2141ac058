#!/usr/bin/env python3
"""io-thread stall benchmark (issue 19; results in docs/performance.md, "io-thread stalls").

The node runs RPC and P2P on one io thread, so anything long on it delays every other client. A
prober process calls `getblockcount` every 10 ms on a kept-alive connection while a scenario runs;
the latency of each call is how long it waited for the io thread. Per scenario this prints the
longest and the 99th-percentile latency seen during the measured operation, and how long that
operation took. Scenarios (each selectable; default: all):

  --mempool   (a) `getrawmempool true` (and false) with --mempool-txs (20,000) transactions waiting
  --block     (b) `getblock <hash> 2` (and 1) of a block filled with --block-txs (6,500: about 1 MB) transfers
              ((a) and (b): --rounds (5) calls in a row, measured together)
  --reorg     (c) a --reorg-depth (500) block reorg with --reorg-txs (60,000) transactions waiting
  --wallet    (d) a block arriving with --wallet-txs (5,000) payments to a loaded wallet waiting

--quick uses small sizes (a smoke run in seconds). Python 3 standard library only (plus the
`cryptography` package when installed, as tests/functional/p2p_util.py uses it for signing).
Usage: bench/stall_bench.py --build-dir build [--quick] [--mempool] [--block] [--reorg] [--wallet]
"""
import argparse
import http.client
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "functional"))
import framework  # noqa: E402
import p2p_util as u  # noqa: E402

PROBE_INTERVAL = 0.010
SENDER_WINDOW = 25  # kMaxMempoolTxsPerSender: transactions one sender may have waiting
BATCH = 500  # requests per JSON-RPC batch while setting up
BURN = "rchz1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqedx4de"


# ---------------------------------------------------------------------------------------------
# the prober: a process of its own, so the benchmark's own Python work never delays it


def _probe(port, auth, stop, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1200)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getblockcount", "params": []})
    headers = {"Content-Type": "application/json", "Authorization": auth}
    samples = []
    for _ in range(10_000_000):
        if stop.is_set():
            break
        t0 = time.monotonic()
        conn.request("POST", "/", body=body, headers=headers)
        conn.getresponse().read()
        latency = time.monotonic() - t0
        samples.append((t0, latency))
        time.sleep(max(0.0, PROBE_INTERVAL - latency))
    conn.close()
    out.put(samples)


class Prober:
    """Runs _probe in a child process; stop() returns the (start, latency) samples."""

    def __init__(self, node):
        self.stop_event = multiprocessing.Event()
        self.queue = multiprocessing.Queue()
        self.proc = multiprocessing.Process(target=_probe, args=(node.rpc_port, node.auth_header(), self.stop_event,
                                                                 self.queue), daemon=True)

    def __enter__(self):
        self.proc.start()
        time.sleep(0.2)  # a few samples of the quiet node first
        return self

    def __exit__(self, *exc):
        if self.proc.is_alive():
            self.stop_event.set()
            self.proc.join(timeout=120)

    def stop(self):
        time.sleep(0.05)
        self.stop_event.set()
        samples = self.queue.get(timeout=120)
        self.proc.join(timeout=30)
        return samples


def report(name, samples, window, op_seconds, extra=""):
    """Latencies of the probes that overlapped the measured window [start, end]."""
    start, end = window
    lat = sorted(latency for t0, latency in samples if t0 + latency >= start and t0 <= end)
    if not lat:
        print(f"{name}: no probe overlapped the operation")
        return
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    p50 = lat[len(lat) // 2]
    print(f"{name}: longest stall {lat[-1] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, p50 {p50 * 1000:.1f} ms "
          f"over {len(lat)} probes; "
          f"the operation took {op_seconds * 1000:.0f} ms{extra}")
    sys.stdout.flush()


def stall_info(node):
    """The node's own view (getstallinfo), where the build has it: stalls and the longest's task."""
    try:
        info = slow_rpc(node, "getstallinfo")
    except framework.RpcError:
        return
    tasks = ", ".join(f"{name} {t['stalls']}x max {t['longest_ms']:.0f} ms" for name, t in info["tasks"].items())
    print(f"    node's getstallinfo: {info['stalls']} stalls over {info['bound_ms']} ms; {tasks or 'none'}")


def timed(fn):
    t0 = time.monotonic()
    result = fn()
    return result, (t0, time.monotonic())


# ---------------------------------------------------------------------------------------------
# set-up helpers


def batch(node, calls, path="/"):
    """JSON-RPC batches of (method, params); returns the results; raises on the first error."""
    results = []
    for i in range(0, len(calls), BATCH):
        chunk = [{"jsonrpc": "2.0", "id": j, "method": m, "params": p} for j, (m, p) in enumerate(calls[i:i + BATCH])]
        status, _, data = node.http("POST", path, json.dumps(chunk), timeout=600)
        replies = sorted(framework.parse_json(data), key=lambda r: r["id"])
        for r in replies:
            if r.get("error"):
                raise framework.RpcError(r["error"]["code"], r["error"]["message"])
            results.append(r["result"])
    return results


def fund_senders(node, count, label):
    """`count` keys, each with one mature coinbase (50 CHZ) on `node`."""
    keys = [u.Key(f"{label} {i}") for i in range(count)]
    batch(node, [("generatetoaddress", [1, k.address]) for k in keys])
    node.rpc("generatetoaddress", u.COINBASE_MATURITY + 1, BURN)
    return keys


def submit_transfers(node, keys, total, recipient_pubs):
    """`total` transfers, at most SENDER_WINDOW per key, round-robin over the recipients."""
    txs = []
    for i in range(total):
        key = keys[i // SENDER_WINDOW]
        to = recipient_pubs[i % len(recipient_pubs)]
        txs.append(u.make_transfer(key, to, u.COIN // 100, u.MIN_RELAY_FEE, i % SENDER_WINDOW))
    batch(node, [("sendrawtransaction", [tx.hex]) for tx in txs])
    return txs


def senders_for(total):
    return (total + SENDER_WINDOW - 1) // SENDER_WINDOW


def copy_blocks(src, dst, first, last):
    """Blocks first..last of src's active chain, given to dst by submitblock."""
    hashes = batch(src, [("getblockhash", [h]) for h in range(first, last + 1)])
    blocks = batch(src, [("getblock", [h, 0]) for h in hashes])
    batch(dst, [("submitblock", [b]) for b in blocks])


def slow_rpc(node, method, *params):
    """node.rpc() without the harness's 30 s timeout (a stalled node may take longer)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    status, _, data = node.http("POST", "/", body, timeout=1200)
    reply = framework.parse_json(data)
    if reply.get("error"):
        raise framework.RpcError(reply["error"]["code"], reply["error"]["message"])
    return reply["result"]


def slow_rpc_at(node, path, method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    status, _, data = node.http("POST", path, body, timeout=1200)
    return framework.parse_json(data)["result"]


def raw_call(node, method, params):
    """One call whose (large) reply is read but not parsed; returns its size in bytes."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    status, _, data = node.http("POST", "/", body, timeout=600)
    if status != 200:
        raise framework.HttpError(status, data)
    return len(data)


# ---------------------------------------------------------------------------------------------
# scenarios


def measure_calls(node, rounds, name, method, params):
    """`rounds` calls one after the other under one prober; the window spans them all."""
    with Prober(node) as probe:
        t0 = time.monotonic()
        durations = []
        for _ in range(rounds):
            size, window = timed(lambda: raw_call(node, method, params))
            durations.append(window[1] - window[0])
        samples = probe.stop()
    report(name, samples, (t0, window[1]), max(durations),
           f" (longest of {rounds} calls), {size / 1e6:.1f} MB each")


def scenario_mempool(run, opts):
    node = run.node()
    keys = fund_senders(node, senders_for(opts.mempool_txs), "mempool")
    submit_transfers(node, keys, opts.mempool_txs, [u.Key("mempool sink").pub])
    assert node.rpc("getmempoolinfo")["size"] == opts.mempool_txs
    for verbose in (True, False):
        measure_calls(node, opts.rounds, f"(a) getrawmempool {str(verbose).lower()} at {opts.mempool_txs} txs",
                      "getrawmempool", [verbose])
    stall_info(node)
    node.stop()


def scenario_block(run, opts):
    node = run.node()
    keys = fund_senders(node, senders_for(opts.block_txs), "block")
    submit_transfers(node, keys, opts.block_txs, [u.Key("block sink").pub])
    block_hash = node.rpc("generatetoaddress", 1, BURN)[0]
    n_tx = node.rpc("getblock", block_hash, 1)["nTx"]
    for verbosity in (2, 1):
        measure_calls(node, opts.rounds, f"(b) getblock verbosity {verbosity} of a {n_tx}-transaction block",
                      "getblock", [block_hash, verbosity])
    stall_info(node)
    node.stop()


def scenario_reorg(run, opts):
    a = run.node()
    b = run.node()
    keys = fund_senders(a, senders_for(opts.reorg_txs), "reorg")
    fork = a.rpc("getblockcount")
    copy_blocks(a, b, 1, fork)
    assert b.rpc("getbestblockhash") == a.rpc("getbestblockhash")
    u.generate(a, opts.reorg_depth, BURN)
    u.generate(b, opts.reorg_depth + 1, u.Key("reorg other miner").address)
    submit_transfers(a, keys, opts.reorg_txs, [u.Key("reorg sink").pub])
    # B's branch is stored on A first (less work than A's, nothing moves); its last block then
    # makes it the most-work chain: one reorg of reorg_depth blocks.
    copy_blocks(b, a, fork + 1, fork + opts.reorg_depth)
    last = b.rpc("getblock", b.rpc("getbestblockhash"), 0)
    with Prober(a) as probe:
        result, window = timed(lambda: slow_rpc(a, "submitblock", last))
        samples = probe.stop()
    assert result is None, result
    assert a.rpc("getbestblockhash") == b.rpc("getbestblockhash")
    waiting = a.rpc("getmempoolinfo")["size"]
    report(f"(c) {opts.reorg_depth}-block reorg with {opts.reorg_txs} txs waiting", samples, window,
           window[1] - window[0], f", {waiting} txs waiting after")
    stall_info(a)
    a.stop()
    b.stop()


def scenario_wallet(run, opts):
    a = run.node()
    b = run.node()
    keys = fund_senders(a, senders_for(opts.wallet_txs), "wallet")
    copy_blocks(a, b, 1, a.rpc("getblockcount"))
    a.rpc("createwallet", "stall")
    to = [bytes.fromhex(a.rpc("validateaddress", a.wallet("stall").getnewaddress())["publickey"])]
    submit_transfers(a, keys, opts.wallet_txs, to)
    for i in range(opts.wallet_blocks):
        u.generate(b, 1, BURN)
        block = b.rpc("getblock", b.rpc("getbestblockhash"), 0)
        with Prober(a) as probe:
            result, window = timed(lambda: slow_rpc(a, "submitblock", block))
            height = b.rpc("getblockcount")
            framework.wait_until(lambda: slow_rpc_at(a, "/wallet/stall", "getwalletinfo")["lastprocessedblock"]["height"]
                                 == height, timeout=1200, interval=0.01, what="wallet at the tip")
            window = (window[0], time.monotonic())
            samples = probe.stop()
        assert result is None, result
        report(f"(d) block {i + 1} arriving with {opts.wallet_txs} wallet payments waiting", samples, window,
               window[1] - window[0])
    stall_info(a)
    a.stop()
    b.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    for name in ("mempool", "block", "reorg", "wallet"):
        p.add_argument(f"--{name}", action="store_true", help=f"run the {name} scenario")
    p.add_argument("--mempool-txs", type=int, default=20_000)
    p.add_argument("--block-txs", type=int, default=6_500)
    p.add_argument("--reorg-depth", type=int, default=500)
    p.add_argument("--reorg-txs", type=int, default=60_000)
    p.add_argument("--wallet-txs", type=int, default=5_000)
    p.add_argument("--wallet-blocks", type=int, default=3)
    p.add_argument("--rounds", type=int, default=5, help="calls per measurement in (a) and (b)")
    opts = p.parse_args()
    if opts.quick:
        opts.mempool_txs, opts.block_txs, opts.reorg_depth = 500, 500, 20
        opts.reorg_txs, opts.wallet_txs, opts.wallet_blocks = 500, 100, 1
    chosen = [n for n in ("mempool", "block", "reorg", "wallet") if getattr(opts, n)]
    chosen = chosen or ["mempool", "block", "reorg", "wallet"]
    run = framework.TestRun(opts.build_dir)
    try:
        for name in chosen:
            t0 = time.monotonic()
            globals()[f"scenario_{name}"](run, opts)
            print(f"  ({name}: {time.monotonic() - t0:.0f} s with set-up)")
    except Exception:
        run.failed = True
        raise
    finally:
        run.cleanup()


if __name__ == "__main__":
    main()
