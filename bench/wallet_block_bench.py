#!/usr/bin/env python3
"""Wallet at each block (docs/performance.md): how long a block stalls the node's io thread while
N payments to a loaded wallet wait in the mempool.

A regtest node with one loaded wallet; N transfers to the wallet's addresses are signed by
non-wallet keys (25 per sender, the mempool's per-sender window) and sent with
sendrawtransaction. Then:
  1. `--blocks` blocks WITHOUT those payments (a coinbase only, built here and sent with
     submitblock), so that the payments stay waiting: the per-block cost of the wallet;
  2. one block mined by the node, which confirms all N payments.
During each block a second client calls `getblockcount` every 10 ms on a kept-alive connection;
the longest reply time is the stall. With --strace (and strace installed), fdatasync/fsync calls
of the whole process are counted over the blocks of step 1.

Usage: bench/wallet_block_bench.py --build-dir build [--payments 1000 5000] [--blocks 3] [--strace]
"""
import argparse
import base64
import http.client
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "functional"))
import framework  # noqa: E402
import p2p_util as u  # noqa: E402

PER_SENDER = 25
FEE = 1000


class Poller:
    """Calls getblockcount every 10 ms on one kept-alive connection; records each reply time."""

    def __init__(self, node):
        user, password = node.auth
        self.header = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
                       "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=60)
        self.samples = []  # (start, duration)
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def call(self):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getblockcount", "params": []})
        t0 = time.monotonic()
        self.conn.request("POST", "/", body, self.header)
        self.conn.getresponse().read()
        return t0, time.monotonic() - t0

    def run(self):
        while not self.stop_flag:
            self.samples.append(self.call())
            time.sleep(0.01)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag = True
        self.thread.join()

    def longest(self, since, until):
        return max((d for s, d in self.samples if since <= s + d and s <= until), default=0.0)


def empty_block(node, recipient):
    """A block of the coinbase only on the node's tip (solved here), as submitblock hex."""
    tpl = node.rpc("getblocktemplate", u.Key("wallet bench miner").address)
    subsidy = u.crumbs(tpl["coinbasevalue"]) - u.crumbs(tpl["fees"])
    height = tpl["height"]
    extra = b"wallet bench " + str(time.monotonic_ns()).encode()
    coinbase = bytes([1]) + recipient + struct.pack("<QQ", subsidy, height) + bytes([len(extra)]) + extra
    merkle = u.sha256d(b"\x00" + u.sha256d(coinbase))
    bits = int(tpl["bits"], 16)
    when = max(tpl["curtime"], tpl["mintime"])
    for nonce in range(1 << 24):
        header = u.header_bytes(1, u.internal(tpl["previousblockhash"]), merkle, when, bits, nonce)
        if u.hash_meets(header, bits):
            break
    return (header + bytes([1]) + coinbase).hex()


def ms(xs):
    return [round(x * 1000, 1) for x in xs]


def measure_blocks(node, poller, miner, blocks):
    """Submits `blocks` coinbase-only blocks; per block: the longest getblockcount reply while it
    was processed (and 0.3 s after), and the submitblock call's own time."""
    stalls, rpc = [], []
    for _ in range(blocks):
        raw = empty_block(node, miner)
        time.sleep(0.1)
        s = time.monotonic()
        assert node.rpc("submitblock", raw) is None
        e = time.monotonic()
        time.sleep(0.3)  # whatever the block leaves behind on the io thread
        stalls.append(poller.longest(s, time.monotonic()))
        rpc.append(e - s)
    return stalls, rpc


def fund_senders(node, count):
    keys = [u.Key(f"wallet bench sender {i}") for i in range(count)]
    for k in keys:
        node.rpc("generatetoaddress", 1, k.address)
    node.rpc("generatetoaddress", u.COINBASE_MATURITY + 1, u.Key("wallet bench miner").address)
    return keys


def wait_scanned(w):
    framework.wait_until(lambda: not w.getwalletinfo().get("scanning"), timeout=120, interval=0.05,
                         what="wallet scan")


def strace_start(pid):
    if not shutil_which("strace"):
        return None
    tids = os.listdir(f"/proc/{pid}/task")
    args = ["strace", "-f", "-c", "-e", "trace=fdatasync,fsync,unlink"]
    for tid in tids:
        args += ["-p", tid]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # attached
    return p


def strace_stop(p):
    if p is None:
        return "strace not installed"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    counts = {"fdatasync": 0, "fsync": 0, "unlink": 0}
    for line in err.splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fdatasync", "fsync", "unlink") and len(parts) >= 5:
            counts[parts[-1]] = int(parts[3])
    return counts


def shutil_which(name):
    import shutil
    return shutil.which(name)


def run_case(run, n, blocks, use_strace, confirm_unloaded):
    node = run.node()
    node.rpc("createwallet", "bench")
    w = node.wallet("bench")
    addresses = [w.getnewaddress() for _ in range(20)]
    recipients = [bytes.fromhex(node.rpc("validateaddress", a)["publickey"]) for a in addresses]
    senders = fund_senders(node, (n + PER_SENDER - 1) // PER_SENDER)
    wait_scanned(w)
    t0 = time.monotonic()
    sent = 0
    for k in senders:
        for nonce in range(PER_SENDER):
            if sent == n:
                break
            tx = u.make_transfer(k, recipients[sent % len(recipients)], 10_000 + sent, FEE, nonce)
            node.rpc("sendrawtransaction", tx.hex)
            sent += 1
    send_s = time.monotonic() - t0
    framework.wait_until(lambda: len(w.listtransactions(n + 10)) >= n, timeout=120, interval=0.1,
                         what="payments recorded")
    assert node.rpc("getmempoolinfo")["size"] == n
    miner = u.Key("wallet bench miner").pub
    poller = Poller(node)
    poller.start()
    time.sleep(0.2)
    tracer = strace_start(node.process.pid) if use_strace else None
    stalls, rpc_ms = measure_blocks(node, poller, miner, blocks)
    syscalls = strace_stop(tracer) if use_strace else None
    assert node.rpc("getmempoolinfo")["size"] == n, "the payments still wait"
    # Control: the same blocks with the wallet unloaded and the same payments waiting.
    node.rpc("unloadwallet", "bench")
    control, _ = measure_blocks(node, poller, miner, blocks)
    if not confirm_unloaded:
        node.rpc("loadwallet", "bench")
        wait_scanned(w)
    # One block that confirms every payment.
    s = time.monotonic()
    node.rpc("generatetoaddress", 1, u.Key("wallet bench miner").address)
    e = time.monotonic()
    time.sleep(0.5)
    confirm_stall = poller.longest(s, time.monotonic())
    confirm_rpc = e - s
    poller.stop()
    if confirm_unloaded:
        node.rpc("loadwallet", "bench")
        wait_scanned(w)
    txs = w.listtransactions(n + 10)
    ids = [x["txid"] for x in txs if x["category"] == "receive"]
    confirmed = sum(1 for x in txs if x.get("confirmations", 0) == 1 and x["category"] == "receive")
    node.stop()
    return {"n": n, "send_tx_per_s": round(n / send_s), "stalls_ms": ms(stalls), "submitblock_ms": ms(rpc_ms),
            "syscalls": syscalls, "confirm_block_stall_ms": round(confirm_stall * 1000, 1),
            "confirm_block_rpc_ms": round(confirm_rpc * 1000, 1), "receive_records": len(ids),
            "distinct_txids": len(set(ids)), "confirmed_records": confirmed,
            "control_wallet_unloaded_stalls_ms": ms(control), "confirm_block_wallet_loaded": not confirm_unloaded}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--payments", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--confirm-unloaded", action="store_true",
                    help="unload the wallet for the block that confirms the payments (a control)")
    opts = ap.parse_args()
    run = framework.TestRun(opts.build_dir)
    try:
        for n in opts.payments:
            r = run_case(run, n, opts.blocks, opts.strace, opts.confirm_unloaded)
            print(json.dumps(r), flush=True)
    finally:
        run.cleanup()


if __name__ == "__main__":
    main()
