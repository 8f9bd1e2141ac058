#!/usr/bin/env python3
"""The attacks of issue 16, end to end on loopback, against one `cheesed` binary.

Each attack starts a fresh regtest victim V (its own temporary data directory, started as
tests/functional/framework.py starts nodes) and, beside it, an honest node H connected to V. A
hand-driven raw peer (tests/functional/p2p_util.py) then attacks V, and the script measures:

- cpu_s: V's CPU seconds (utime + stime from /proc/PID/stat) from just before the attack until V
  is idle again after it;
- rss_mb: V's peak resident memory during the attack (VmHWM of /proc/PID/status, reset with
  /proc/PID/clear_refs before the attack), and rss0_mb, V's resident memory before it;
- disk_mb: growth of V's data directory (logs left out);
- entries stored for the attacker: side chain tips (getchaintips), distinct side-branch blocks
  and headers, address-book entries, mempool transactions;
- whether the attacker was disconnected and discouraged (its connection, listbanned);
- honest_s: seconds until H has a block V mines after the attack (or, for the slot attack, until
  an honest node that connects after the attack is synced); "no" if not within --honest-timeout.

Usage:
  python3 bench/attacks.py --cheesed build/daemon/cheesed [--attacks 1,2,3] [--json out.json]

Prints one markdown table row per attack (and the rows as JSON with --json). Python standard
library only (p2p_util signs with the `cryptography` package when it is installed, which makes
building the attack blocks much faster). Every loop is bounded in count and time; every address
is on 127.0.0.0/8.
"""

import argparse
import json
import os
import random
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "functional"))

import framework  # noqa: E402
import p2p_util as u  # noqa: E402
from framework import TestFailure  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
VICTIM_ARGS = ["-listen=1", "-notracker"]
VICTIM_HEIGHT = 200
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------- process figures


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_mb(pid, key):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def reset_peak_rss(pid):
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def dir_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            if name.endswith(".log") or name.startswith("stdout") or name.startswith("stderr"):
                continue
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total / MB


def wait_idle(pid, timeout=120.0, quiet=0.05, window=0.5):
    """Waits until the process used less than `quiet` CPU seconds over `window` seconds."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    for _ in range(int(timeout / window) + 1):
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - last < quiet or time.monotonic() > deadline:
            return
        last = now


# --------------------------------------------------------------------------------------------- a victim


class Victim:
    def __init__(self, t, extra=(), peers_json=None, with_honest=True, connect=None):
        # -connect: V dials only this (by default a port where nothing listens), so its address
        # book and its connections are what the attack makes of them.
        target = connect or f"127.0.0.1:{framework.free_port()}"
        self.node = t.node(extra_args=VICTIM_ARGS + [f"-connect={target}"] + list(extra), start=False)
        if peers_json is not None:
            os.makedirs(self.node.datadir, exist_ok=True)
            with open(os.path.join(self.node.datadir, "peers.json"), "w", encoding="ascii") as f:
                json.dump(peers_json, f)
        self.node.start()
        self.funder = u.Key("attack funder")
        u.generate(self.node, VICTIM_HEIGHT, self.funder.address)
        self.honest = None
        if with_honest:
            self.honest = start_honest(t, self.node)

    @property
    def pid(self):
        return self.node.process.pid

    def begin(self):
        wait_idle(self.pid, timeout=30)
        self.cpu0 = cpu_seconds(self.pid)
        self.rss0 = status_mb(self.pid, "VmRSS")
        self.hwm_reset = reset_peak_rss(self.pid)
        self.disk0 = dir_mb(self.node.datadir)
        self.t0 = time.monotonic()

    def end(self):
        wait_idle(self.pid)
        return {
            "cpu_s": round(cpu_seconds(self.pid) - self.cpu0, 2),
            "rss0_mb": round(self.rss0, 1),
            "rss_mb": round(status_mb(self.pid, "VmHWM"), 1) if self.hwm_reset else None,
            "disk_mb": round(dir_mb(self.node.datadir) - self.disk0, 2),
            "wall_s": round(time.monotonic() - self.t0, 1),
        }

    def entries(self):
        n = self.node
        tips = n.rpc("getchaintips")
        side = [tp for tp in tips if tp.get("status") != "active"]
        return {
            "tips": len(side),
            "side_entries": side_entries(n, side),
            "statuses": count_by(tp.get("status") for tp in side),
            "addrbook": n.rpc("getnetworkinfo").get("addressbook"),
            "mempool": n.rpc("getmempoolinfo").get("size"),
        }

    def honest_served(self, timeout):
        """Seconds until H has a block V mines now; None if not within timeout."""
        if self.honest is None:
            return None
        try:
            block = self.node.rpc("generatetoaddress", 1, u.Key("attack victim").address)[0]
        except (framework.RpcError, OSError):
            return None
        t0 = time.monotonic()
        try:
            framework.wait_until(lambda: self.honest.rpc("getbestblockhash") == block, timeout=timeout,
                                 interval=0.05, what="the honest node to get the new block")
        except TestFailure:
            return None
        return round(time.monotonic() - t0, 2)


def start_honest(t, victim, wait=True):
    h = t.node(extra_args=VICTIM_ARGS + [f"-connect={u.p2p_addr(victim)}"])
    if wait:
        u.wait_same_tip([victim, h], timeout=60)
    return h


def count_by(items):
    out = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def side_entries(node, side_tips, max_calls=20000):
    """Distinct blocks and headers on side branches (walks each branch back to a known entry)."""
    seen = set()
    calls = 0
    for tp in side_tips:
        h = tp["hash"]
        for _ in range(int(tp.get("branchlen", 1))):
            if h in seen:
                break
            seen.add(h)
            if tp.get("branchlen", 1) == 1 or calls >= max_calls:
                break
            calls += 1
            try:
                h = node.rpc("getblockheader", h)["previousblockhash"]
            except (framework.RpcError, KeyError):
                break
    return len(seen)


def settle(raw, timeout=120.0):
    """ping/pong on the attacker's connection: everything it sent before was read."""
    if raw.closed:
        return False
    nonce = os.urandom(8)
    if not raw.send("ping", nonce):
        return False
    deadline = time.monotonic() + timeout
    for _ in range(1_000_000):
        m = raw.recv(max(0.0, deadline - time.monotonic()))
        if m is None:
            return False
        if m[0] == "ping":
            raw.send("pong", m[1])
        if m[0] == "pong" and m[1] == nonce:
            return True
    return False


def attacker_state(victim, raw):
    """(disconnected, discouraged) of a raw attacker connection."""
    key = u.raw_key(raw)
    disconnected = raw.closed or not raw.still_open(2.0)
    return disconnected, key in u.banned(victim.node)


def send_all(raw, command, payloads, timeout=120.0):
    """Sends every payload; reads what the node sends meanwhile is left in the socket (bounded)."""
    raw.sock.settimeout(timeout)
    sent = 0
    for p in payloads:
        if not raw.send(command, p):
            break
        sent += 1
    return sent


def transfers(key, recipient, count, first_nonce=0, fee=u.MIN_RELAY_FEE, amount=1):
    return [u.make_transfer(key, recipient.pub, amount, fee, first_nonce + i).raw for i in range(count)]


def max_transfers_per_block():
    """Transfers (153 bytes each) that fit in a block beside its header, count and coinbase."""
    return (1_000_000 - 80 - 3 - 60) // 153


# --------------------------------------------------------------------------------------------- the attacks


def attack_side_blocks(t, o):
    """1. Unsolicited low-work blocks on a branch forking at genesis (with real signatures)."""
    v = Victim(t)
    n = v.node
    genesis = u.internal(n.rpc("getblockhash", 0))
    g_time = n.rpc("getblockheader", u.display(genesis))["time"]
    atk, sink = u.Key("attacker"), u.Key("attacker sink")
    branch, prev = [], genesis
    for h in range(1, 12):  # the attacker's reward of block 1 matures at height 11
        b = u.make_block(prev, h, g_time + h, atk.pub)
        branch.append(b)
        prev = u.block_hash(b)
    txs = transfers(atk, sink, o.side_txs)
    fees = o.side_txs * u.MIN_RELAY_FEE
    siblings = [u.make_block(prev, 12, g_time + 12, atk.pub, txs, fees, extra=struct.pack("<I", i))
                for i in range(o.side_blocks)]
    v.begin()
    raw = u.connect_raw(n, handshake=True)
    send_all(raw, "block", branch + siblings)
    settle(raw)
    row = v.end()
    row.update(v.entries())
    row["disconnected"], row["discouraged"] = attacker_state(v, raw)
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["params"] = f"{len(branch) + len(siblings)} blocks, {o.side_blocks} x {o.side_txs} signed transfers"
    row["sig_checks_sent"] = o.side_blocks * o.side_txs
    raw.close()
    return row


def attack_unknown_parent(t, o):
    """2. The same block with an unknown parent, re-sent N times."""
    v = Victim(t)
    n = v.node
    atk, sink = u.Key("attacker"), u.Key("attacker sink")
    txs = transfers(v.funder, sink, o.resend_txs, first_nonce=n.rpc("getaccount", v.funder.address)["next_nonce"])
    tip_time = n.rpc("getblockheader", n.rpc("getbestblockhash"))["time"]
    block = u.make_block(os.urandom(32), VICTIM_HEIGHT + 2, tip_time + 2, atk.pub, txs,
                         o.resend_txs * u.MIN_RELAY_FEE)
    v.begin()
    raw = u.connect_raw(n, handshake=True)
    raw.sock.settimeout(60)
    answered = 0
    for _ in range(o.resend):
        # Each copy after the node has dealt with the one before (it answers with getheaders), so
        # that no copy is dropped as "already queued".
        if not raw.send("block", block):
            break
        try:
            raw.expect("getheaders", timeout=10)
            answered += 1
        except TestFailure:
            break
    settle(raw)
    row = v.end()
    row.update(v.entries())
    row["disconnected"], row["discouraged"] = attacker_state(v, raw)
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["params"] = (f"1 block of {o.resend_txs} signed transfers sent {o.resend} times, each after the "
                     f"getheaders answer to the one before ({answered} answered)")
    row["sig_checks_sent"] = o.resend * o.resend_txs
    raw.close()
    return row


def attack_sibling_headers(t, o):
    """3. Low-work sibling headers from genesis, one per headers message (each one consecutive)."""
    v = Victim(t)
    n = v.node
    genesis = u.internal(n.rpc("getblockhash", 0))
    g_time = n.rpc("getblockheader", u.display(genesis))["time"]
    headers = [u.solve_header(1, genesis, os.urandom(32), g_time + 1) for _ in range(o.headers)]
    v.begin()
    raw = u.connect_raw(n, handshake=True)
    send_all(raw, "headers", [u.headers_payload([h]) for h in headers])
    settle(raw)
    row = v.end()
    row.update(v.entries())
    row["disconnected"], row["discouraged"] = attacker_state(v, raw)
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["params"] = f"{o.headers} sibling headers at height 1, one per message"
    raw.close()
    return row


ATTACKER_IP = bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 2])
HONEST_IP = "127.0.0.3"


def addr_entries(first_port, count, when):
    return u.varint(count) + b"".join(struct.pack("<qQ", when, 1) + ATTACKER_IP + struct.pack("<H", first_port + i)
                                      for i in range(count))


def honest_book(count):
    now = int(time.time())
    return [{"addr": f"{HONEST_IP}:{10000 + i}", "time": now - 3600, "last_success": now - 3600,
             "source": "tracker"} for i in range(count)]


def book_shares(v):
    """(attacker entries, honest entries) of peers.json, written when V stops."""
    v.node.stop()
    book = u.saved_addresses(v.node)
    attacker = sum(1 for a in book if a.startswith("127.0.0.2:"))
    honest = sum(1 for a in book if a.startswith(HONEST_IP + ":"))
    return attacker, honest


def getaddr_share(v):
    """Share of attacker addresses in the reply to a fresh inbound peer's getaddr."""
    with u.connect_raw(v.node, handshake=True) as asker:
        asker.send("getaddr")
        try:
            payload = asker.expect("addr", timeout=5)
        except TestFailure:
            return None, 0
    ips = [ip for _, _, ip, _ in u.parse_addr(payload)]
    count = len(ips)
    attacker = sum(1 for ip in ips if ip == ATTACKER_IP)
    return (round(attacker / count, 3) if count else None), count


def attack_addr_flood(t, o):
    """4. addr flood from one inbound connection: small (10-entry) messages, fresh timestamps."""
    v = Victim(t, peers_json=honest_book(o.honest_addrs))
    when = int(time.time()) + 500  # newer than every honest entry, not yet clamped
    v.begin()
    raw = u.connect_raw(v.node, handshake=True)
    msgs = [addr_entries(1024 + i, 10, when) for i in range(0, o.addrs, 10)]
    send_all(raw, "addr", msgs)
    settle(raw)
    row = v.end()
    row.update(v.entries())
    row["disconnected"], row["discouraged"] = attacker_state(v, raw)
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["getaddr_attacker_share"], row["getaddr_count"] = getaddr_share(v)
    raw.close()
    row["book_attacker"], row["book_honest"] = book_shares(v)
    row["params"] = f"{o.addrs} addresses in {len(msgs)} addr messages; {o.honest_addrs} honest entries before"
    return row


def accept_peer(listener, timeout):
    listener.settimeout(timeout)
    try:
        sock, _ = listener.accept()
    except socket.timeout:
        return None
    sock.settimeout(10)
    return u.RawPeer(0, sock=sock)


def attack_addr_reply(t, o):
    """4b. The victim dials the attacker (an outbound peer): each connection's getaddr reply (1,000
    entries) is taken whole; the attacker hangs up and is dialled again."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    v = Victim(t, peers_json=honest_book(o.honest_addrs), connect=f"127.0.0.1:{port}")
    when = int(time.time()) + 500
    v.begin()
    rounds = sent = 0
    deadline = time.monotonic() + o.reply_seconds
    for r in range(o.reply_rounds):
        if time.monotonic() > deadline:
            break
        raw = accept_peer(listener, timeout=max(0.1, deadline - time.monotonic()))
        if raw is None:
            break
        try:
            raw.expect("version", timeout=5)
            raw.send("version", u.version_payload(best_height=0))
            raw.send("verack")
            raw.expect("verack", timeout=5)
            raw.expect("getaddr", timeout=5)
            raw.send("addr", addr_entries(1024 + 1000 * r, 1000, when))
            if settle(raw, timeout=10):
                rounds += 1
                sent += 1000
        except TestFailure:
            pass
        raw.close()
    listener.close()
    row = v.end()
    row.update(v.entries())
    row["disconnected"], row["discouraged"] = True, False  # the attacker hangs up itself
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["getaddr_attacker_share"], row["getaddr_count"] = getaddr_share(v)
    row["book_attacker"], row["book_honest"] = book_shares(v)
    row["params"] = (f"{rounds} outbound connections x 1000 addresses in the getaddr reply; "
                     f"{o.honest_addrs} honest entries before")
    return row


def open_handshaken(node, count):
    """`count` raw connections that complete the handshake (those refused are counted)."""
    conns, refused = [], 0
    for _ in range(count):
        try:
            raw = u.RawPeer(node.p2p_port, timeout=5)
            raw.handshake(best_height=0, timeout=5)
            conns.append(raw)
        except (TestFailure, OSError):
            refused += 1
    return conns, refused


def attack_slots(t, o):
    """5. Inbound slot exhaustion from one IP: connections that complete the handshake, then an
    honest node connects, then a second wave of attacker connections comes."""
    v = Victim(t, with_honest=False)
    n = v.node
    v.begin()
    conns, refused = open_handshaken(n, o.conns)
    keys = {u.raw_key(c) for c in conns}
    burst = sum(1 for p in u.peers(n) if p["addr"] in keys)
    time.sleep(1.5)  # a node that evicts does so within a tick of its connection manager
    before = sum(1 for p in u.peers(n) if p["addr"] in keys)
    t0 = time.monotonic()
    h = start_honest(t, n, wait=False)
    honest_s = None
    try:
        u.wait_same_tip([n, h], timeout=o.honest_timeout)
        honest_s = round(time.monotonic() - t0, 2)
    except TestFailure:
        pass
    # A second wave: does a connection that arrives after the honest peer evict it?
    wave, wave_refused = open_handshaken(n, o.wave)
    time.sleep(1.5)
    v.honest = h
    kept = u.connected_to(n, h)
    conns += wave
    alive = sum(1 for c in conns if c.still_open(0.5))
    row = v.end()
    row.update(v.entries())
    row["disconnected"] = f"{len(conns) - alive} of {len(conns)}"
    row["discouraged"] = bool(u.banned(n))
    row["honest_s"] = honest_s
    row["attacker_slots"] = before
    row["attacker_slots_burst"] = burst
    row["honest_kept_after_wave"] = kept
    row["honest_s_after_wave"] = v.honest_served(o.honest_timeout) if kept else None
    row["params"] = (f"{o.conns} connections from 127.0.0.1 ({len(conns) - len(wave)} handshakes done, {refused} "
                     f"refused), honest node, then {o.wave} more ({wave_refused} refused)")
    for c in conns:
        c.close()
    return row


def big_blocks(v, count):
    """`count` blocks of about 1 MB (transfers from the funder) on V's tip, via submitblock."""
    n = v.node
    sink = u.Key("attack sink")
    per = max_transfers_per_block()
    nonce = n.rpc("getaccount", v.funder.address)["next_nonce"]
    hashes = []
    for _ in range(count):
        tip = n.rpc("getbestblockhash")
        hdr = n.rpc("getblockheader", tip)
        txs = transfers(v.funder, sink, per, first_nonce=nonce)
        nonce += per
        block = u.make_block(u.internal(tip), hdr["height"] + 1, hdr["time"] + 1, v.funder.pub, txs,
                             per * u.MIN_RELAY_FEE)
        res = n.rpc("submitblock", block.hex())
        if res not in (None, "", "duplicate"):
            raise TestFailure(f"submitblock: {res}")
        hashes.append(u.block_hash(block))
    return hashes, len(block)


def slow_reader(port):
    raw = u.RawPeer.small_buffer(port)
    raw.handshake(best_height=0)
    return raw


def attack_send_queue(t, o):
    """6. K peers ask for the largest blocks again and again and never read."""
    v = Victim(t)
    n = v.node
    hashes, size = big_blocks(v, o.big_blocks)
    u.wait_same_tip([n, v.honest], timeout=60)
    v.begin()
    items = [(u.INV_BLOCK, h) for h in hashes] * o.repeat
    peers_ = []
    for _ in range(o.slow_peers):
        raw = slow_reader(n.p2p_port)
        raw.send("getdata", u.inv_payload(items))
        peers_.append(raw)
    deadline = time.monotonic() + o.hold
    peak = 0.0
    for _ in range(int(o.hold / 0.2) + 1):
        peak = max(peak, status_mb(v.pid, "VmRSS"))
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    honest_s = v.honest_served(o.honest_timeout)  # while the slow peers still hold their queues
    ports = {u.raw_key(p) for p in peers_}
    still = sum(1 for p in n.rpc("getpeerinfo") if p["addr"] in ports)
    row = v.end()
    row.update(v.entries())
    row["rss_sampled_mb"] = round(peak, 1)
    row["disconnected"] = f"{len(peers_) - still} of {len(peers_)}"
    row["discouraged"] = bool(ports & u.banned(n))
    row["honest_s"] = honest_s
    row["params"] = (f"{o.slow_peers} peers x getdata of {len(items)} blocks of {size / 1e6:.2f} MB "
                     f"({len(items) * size / MB:.0f} MiB each), held {o.hold:.0f} s")
    for p in peers_:
        p.close()
    return row


def attack_cheap_invalid_txs(t, o):
    """7. Transactions with real signatures but a nonce far ahead or a fee below the minimum."""
    v = Victim(t)
    n = v.node
    sink = u.Key("attack sink")
    nonce = n.rpc("getaccount", v.funder.address)["next_nonce"]
    half = o.txs // 2
    ahead = transfers(v.funder, sink, half, first_nonce=nonce + 1000)
    low_fee = [u.make_transfer(v.funder, sink.pub, 1 + i, 0, nonce).raw for i in range(o.txs - half)]
    v.begin()
    raw = u.connect_raw(n, handshake=True)
    send_all(raw, "tx", ahead + low_fee)
    settle(raw)
    row = v.end()
    row.update(v.entries())
    row["disconnected"], row["discouraged"] = attacker_state(v, raw)
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["us_per_tx"] = round(1e6 * row["cpu_s"] / max(1, o.txs), 1)
    row["params"] = f"{half} transfers with nonce +1000.., {o.txs - half} with fee 0 (all signed)"
    raw.close()
    return row


def serve_blocks(raw, blocks, timeout):
    """Answers the node's getdata for `blocks` until it stops asking (bounded)."""
    by_hash = {u.block_hash(b): b for b in blocks}
    served = set()
    deadline = time.monotonic() + timeout
    for _ in range(10000):
        m = raw.recv(max(0.0, min(2.0, deadline - time.monotonic())))
        if m is None:
            break
        if m[0] == "ping":
            raw.send("pong", m[1])
        if m[0] == "getdata":
            for typ, h in u.parse_inv(m[1]):
                if typ == u.INV_BLOCK and h in by_hash:
                    raw.send("block", by_hash[h])
                    served.add(h)
    return served


def attack_failed_reorg(t, o):
    """8. A more-work branch whose second block is invalid only in context: the node reorgs, fails
    half way and goes back. Does the mempool keep the abandoned branch's transaction, and is a block
    of the failed branch announced to the honest peer?"""
    v = Victim(t)
    n, h = v.node, v.honest
    base = n.rpc("getbestblockhash")
    base_hdr = n.rpc("getblockheader", base)
    a = u.generate(n, 2, u.Key("attack victim").address)
    u.wait_same_tip([n, h], timeout=30)
    sink, empty, atk = u.Key("attack sink"), u.Key("attack empty account"), u.Key("attacker")
    nonce = n.rpc("getaccount", v.funder.address)["next_nonce"]
    tx = u.make_transfer(v.funder, sink.pub, 5000, u.MIN_RELAY_FEE, nonce)
    n.rpc("sendrawtransaction", tx.hex)
    u.wait_in_mempools([n, h], [tx.txid], timeout=15)
    b1 = u.make_block(u.internal(base), base_hdr["height"] + 1, base_hdr["time"] + 1, atk.pub, [tx.raw],
                      u.MIN_RELAY_FEE)
    bad = u.make_transfer(empty, sink.pub, 5000, u.MIN_RELAY_FEE, 0)
    b2 = u.make_block(u.block_hash(b1), base_hdr["height"] + 2, base_hdr["time"] + 2, atk.pub, [bad.raw],
                      u.MIN_RELAY_FEE)
    b3 = u.make_block(u.block_hash(b2), base_hdr["height"] + 3, base_hdr["time"] + 3, atk.pub)
    v.begin()
    observer = u.connect_raw(n, handshake=True, best_height=n.rpc("getblockcount"))
    raw = u.connect_raw(n, handshake=True, best_height=base_hdr["height"] + 3)
    raw.send("headers", u.headers_payload([b1, b2, b3]))
    served = serve_blocks(raw, [b1, b2, b3], timeout=10)
    time.sleep(1.0)
    row = v.end()
    settle(observer, timeout=10)
    announced_to_observer = any(c == "inv" and (u.INV_BLOCK, u.block_hash(b)) in u.parse_inv(pl)
                                for c, pl in observer.received for b in (b1, b2, b3))
    observer.close()
    row.update(v.entries())
    b1_hex = u.display(u.block_hash(b1))
    try:
        h.rpc("getblockheader", b1_hex)
        announced = True
    except framework.RpcError:
        announced = False
    row["tip_back_on_a"] = n.rpc("getbestblockhash") == a[-1]
    row["tx_kept_in_mempool"] = tx.txid in n.rpc("getrawmempool")
    row["b1_reached_honest"] = announced
    row["branch_announced"] = announced_to_observer
    row["blocks_served"] = len(served)
    row["disconnected"], row["discouraged"] = (raw.closed, u.raw_key(raw) in u.banned(n))
    row["honest_s"] = v.honest_served(o.honest_timeout)
    row["params"] = "branch b1 (spends a mempool tx), b2 (transfer from an empty account), b3 vs tip +2"
    raw.close()
    return row


ATTACKS = {
    "1": ("low-work side blocks from genesis", attack_side_blocks),
    "2": ("same unknown-parent block re-sent", attack_unknown_parent),
    "3": ("low-work sibling headers from genesis", attack_sibling_headers),
    "4": ("addr flood, one inbound connection", attack_addr_flood),
    "4b": ("addr stuffing in getaddr replies (outbound)", attack_addr_reply),
    "5": ("inbound slot exhaustion from one IP", attack_slots),
    "6": ("send-queue memory, peers that never read", attack_send_queue),
    "7": ("signed txs with a bad nonce or fee", attack_cheap_invalid_txs),
    "8": ("failed reorg: mempool and announcements", attack_failed_reorg),
}

COLUMNS = ["attack", "cpu_s", "rss0_mb", "rss_mb", "disk_mb", "tips", "side_entries", "addrbook", "mempool",
           "disconnected", "discouraged", "honest_s", "extra"]
BASE_KEYS = set(COLUMNS) | {"name", "params", "statuses", "wall_s", "label", "error"}


def markdown_row(row):
    extra = {k: v for k, v in row.items() if k not in BASE_KEYS}
    if row.get("statuses"):
        extra["statuses"] = row["statuses"]
    cells = []
    for c in COLUMNS:
        val = extra if c == "extra" else row.get(c)
        if c == "attack":
            val = f"{row['attack']}. {row.get('name', '')}"
        if c == "honest_s" and val is None and "error" not in row:
            val = "no"
        if isinstance(val, dict):
            val = ", ".join(f"{k}={w}" for k, w in val.items())
        cells.append("" if val is None else str(val))
    return "| " + " | ".join(cells) + " |"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cheesed", required=True, help="the cheesed binary to attack")
    p.add_argument("--attacks", default="1,2,3,4,4b,5,6,7,8", help="comma-separated list (default: all)")
    p.add_argument("--label", default="", help="a name for this binary in the output (old, new)")
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--side-blocks", type=int, default=40, help="1: sibling side blocks at height 12")
    p.add_argument("--side-txs", type=int, default=2000, help="1: signed transfers in each")
    p.add_argument("--resend", type=int, default=60, help="2: copies of the unknown-parent block")
    p.add_argument("--resend-txs", type=int, default=2000, help="2: signed transfers in it")
    p.add_argument("--headers", type=int, default=20000, help="3: sibling headers")
    p.add_argument("--addrs", type=int, default=12000, help="4: flooded addresses")
    p.add_argument("--honest-addrs", type=int, default=200, help="4: honest entries in peers.json at start")
    p.add_argument("--reply-rounds", type=int, default=12, help="4b: outbound connections answered")
    p.add_argument("--reply-seconds", type=float, default=40, help="4b: at most this long")
    p.add_argument("--conns", type=int, default=100, help="5: attacker connections")
    p.add_argument("--wave", type=int, default=30, help="5: attacker connections after the honest one")
    p.add_argument("--slow-peers", type=int, default=8, help="6: peers that never read")
    p.add_argument("--big-blocks", type=int, default=4, help="6: blocks of about 1 MB")
    p.add_argument("--repeat", type=int, default=7,
                   help="6: each block asked for this many times per peer (7 x 4 MB: under the old 32 MiB limit)")
    p.add_argument("--hold", type=float, default=10, help="6: seconds the peers hold their queues")
    p.add_argument("--txs", type=int, default=20000, help="7: transactions")
    p.add_argument("--honest-timeout", type=float, default=10, help="seconds the honest peer may wait")
    o = p.parse_args()
    cheesed = os.path.abspath(o.cheesed)
    if not os.access(cheesed, os.X_OK):
        sys.exit(f"{cheesed}: not an executable")
    u.ed25519_self_test()
    rows = []
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for key in o.attacks.split(","):
        key = key.strip()
        name, fn = ATTACKS[key]
        t = framework.TestRun(os.path.dirname(os.path.dirname(cheesed)))
        t.cheesed = cheesed
        row = {"attack": key, "name": name, "label": o.label}
        try:
            row.update(fn(t, o))
        except Exception as e:  # noqa: BLE001 - an attack that cannot run is reported, the rest go on
            row["error"] = f"{type(e).__name__}: {e}"
            t.failed = True
        finally:
            t.cleanup()
        rows.append(row)
        print(markdown_row(row) + (f" error: {row['error']}" if "error" in row else ""))
        if row.get("params"):
            print(f"|   | {row['params']} |")
        sys.stdout.flush()
    if o.json:
        with open(o.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1, default=str)


if __name__ == "__main__":
    random.seed()
    main()
