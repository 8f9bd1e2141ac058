#!/usr/bin/env python3
"""The simulator's attacker host (scenario `attack`): runs inside its own namespace, not a node.

    attacker.py --victim 10.77.1.3 --victim 10.77.1.7 --seconds 20 --genesis HEX --genesis-time T
                --tip-height H

For each victim, on its own thread and for `--seconds`, over one inbound connection to the
victim's P2P port, rounds of (the attacks of tests/functional/p2p_dos_test.py and
p2p_hostile_test.py, through p2p_util):
  - unsolicited `addr` messages of 2,000 fake addresses in 10.77.200.0/24 (no host has one; each
    round other ports, so every entry is new): one of 1,000 entries and 100 of 10;
  - the same block with an unknown parent (signed by nobody the victim knows);
  - `headers` of a low-work side chain from genesis (SIDE_HEADERS consecutive valid headers);
  - a ping, and the pong awaited (pings from the victim are answered).
A closed connection is dialled again (bounded by the time left). Prints one JSON object: per
victim the rounds, addresses, blocks and headers sent, disconnections and refused dials, and the
hashes it sent (for the simulator to check that none was stored).
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))

import p2p_util as u  # noqa: E402

P2P_PORT = 28433
ADDR_PER_MESSAGE = 1000  # kMaxAddrPerMessage (docs/protocol.md 10)
FAKE_NET = (10, 77, 200)  # 10.77.200.0/24: inside the simulator's /16, no host has it
SMALL_ADDR = 10  # entries of the small `addr` messages
SIDE_HEADERS = 20  # low-work side chain from genesis (far below tip work - 144 blocks)
PONG_TIMEOUT = 10.0
RECONNECT_PAUSE = 0.5


def addr_payloads(round_no):
    """One round's fake addresses (10.77.200.1..250, ports distinct per round): one `addr` of
    1,000 entries (kMaxAddrPerMessage; an unsolicited one of more than 10 is ignored) and 100 of
    10 entries (the size an unsolicited one may have: only the rate limit stops them)."""
    now = int(time.time())
    entries = []
    for i in range(2 * ADDR_PER_MESSAGE):
        ip = bytes(10) + b"\xff\xff" + bytes(FAKE_NET + (1 + i % 250,))
        port = 1024 + (round_no * 2 * ADDR_PER_MESSAGE + i) // 250 % 60000
        entries.append(struct.pack("<qQ", now, 1) + ip + struct.pack("<H", port))
    big = entries[:ADDR_PER_MESSAGE]
    small = entries[ADDR_PER_MESSAGE:]
    return [u.varint(len(big)) + b"".join(big)] + [u.varint(SMALL_ADDR) + b"".join(small[k:k + SMALL_ADDR])
                                                   for k in range(0, len(small), SMALL_ADDR)]


def attack_one(victim, deadline, block, headers, out):
    rec = out[victim] = {"rounds": 0, "addr_sent": 0, "addr_messages": 0, "blocks_sent": 0, "headers_sent": 0,
                         "connects": 0,
                         "closed_by_victim": 0, "refused": 0, "getheaders_received": 0, "pongs": 0,
                         "errors": []}
    rounds = 0
    for _ in range(100000):
        if time.monotonic() >= deadline:
            break
        try:
            sock = socket.create_connection((victim, P2P_PORT), timeout=5)
        except OSError as e:
            rec["refused"] += 1
            if len(rec["errors"]) < 3:
                rec["errors"].append(f"connect: {e}")
            time.sleep(RECONNECT_PAUSE)
            continue
        rec["connects"] += 1
        raw = u.RawPeer(P2P_PORT, sock=sock)
        try:
            raw.handshake(best_height=0)
            for _ in range(100000):
                if time.monotonic() >= deadline:
                    break
                payloads = addr_payloads(rounds)
                ok = raw.send_raw(b"".join(u.frame("addr", pl) for pl in payloads)) and raw.send("block", block) \
                    and raw.send("headers", u.headers_payload(headers))
                nonce = os.urandom(8)
                ok = ok and raw.send("ping", nonce)
                rounds += 1
                if not ok:
                    break
                rec["addr_sent"] += 2 * ADDR_PER_MESSAGE
                rec["addr_messages"] += len(payloads)
                rec["blocks_sent"] += 1
                rec["headers_sent"] += len(headers)
                got = False
                end = time.monotonic() + PONG_TIMEOUT
                for _ in range(10000):
                    m = raw.recv(max(0.0, end - time.monotonic()))
                    if m is None:
                        break
                    if m[0] == "ping":
                        raw.send("pong", m[1])
                    elif m[0] == "getheaders":
                        rec["getheaders_received"] += 1
                    elif m[0] == "pong" and m[1] == nonce:
                        got = True
                        break
                raw.received.clear()
                if not got:
                    break
                rec["pongs"] += 1
        except (u.TestFailure, OSError) as e:
            if len(rec["errors"]) < 3:
                rec["errors"].append(str(e)[:200])
        finally:
            if raw.closed:
                rec["closed_by_victim"] += 1
            raw.close()
        time.sleep(RECONNECT_PAUSE)
    rec["rounds"] = rounds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--victim", action="append", required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--genesis", required=True, help="genesis hash, display order")
    p.add_argument("--genesis-time", type=int, required=True)
    p.add_argument("--tip-height", type=int, required=True)
    opts = p.parse_args()
    atk = u.Key("netsim attacker")
    genesis = u.internal(opts.genesis)
    block = u.make_block(os.urandom(32), opts.tip_height + 2, int(time.time()), atk.pub)
    headers, prev = [], genesis
    for h in range(1, SIDE_HEADERS + 1):
        headers.append(u.solve_header(1, prev, os.urandom(32), opts.genesis_time + h))
        prev = u.block_hash(headers[-1])
    deadline = time.monotonic() + opts.seconds
    out = {}
    threads = [threading.Thread(target=attack_one, args=(v, deadline, block, headers, out), daemon=True)
               for v in opts.victim]
    for t in threads:
        t.start()
    for t in threads:
        t.join(opts.seconds + PONG_TIMEOUT + 10)
    hashes = [u.display(u.block_hash(block))] + [u.display(u.block_hash(h)) for h in headers]
    print(json.dumps({"victims": out, "hashes": hashes, "side_headers": SIDE_HEADERS,
                      "addr_per_message": ADDR_PER_MESSAGE}), flush=True)


if __name__ == "__main__":
    main()
