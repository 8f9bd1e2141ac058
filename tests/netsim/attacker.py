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
A closed connection is dialled again (bounded by the time left).

With `--tracker HOST:PORT`, the same host attacks the tracker too, for the same `--seconds`, on
its own thread (class TrackerAttack). First it completes one P2P `version` handshake with each
victim to learn its `version` nonce, the nonce the node registers with (docs/protocol.md 4.6, 8).
Then, in rounds every TRACKER_ROUND_PAUSE seconds, each on a new tracker connection:
  - unlist attempts, per victim: `register` with the victim's nonce and listen port;
    `heartbeat` and `deregister` with a guessed registration id and secret (random: the attacker
    cannot learn them), each followed by a `getstatus` (a `status` back means the tracker took the
    message without a `trackererror`); a PROXY line claiming the victim's address, then a
    `register` with its nonce; and a `heartbeat` and a `deregister` naming an id it knows (one of
    its own fakes) with a guessed secret;
  - fake registrations from its one IP, FAKES_PER_ROUND per round, each with a new random nonce,
    of the kinds in FAKE_KINDS: a closed port, and ports where it listens but stays silent, answers
    with another network's magic, with the right magic but network "test", or with another nonce
    (p2p_util.FakeNode). A registration the tracker accepts is held (its connection open,
    heartbeats with its own secret) for FAKE_HOLD_SECONDS, past the tracker's connect-back
    timeout, then deregistered, so that the next ones get their turn under the per-IP limit.
Every reply is counted by kind: `trackererror N`, `registered`, `status`, `closed` or `timeout`.

Prints one JSON object: per victim the rounds, addresses, blocks and headers sent,
disconnections and refused dials, the hashes it sent (for the simulator to check that none was
stored), and under "tracker" the tracker attacks' attempts and replies by kind.
"""

import argparse
import collections
import json
import os
import random
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


TRACKER_ROUND_PAUSE = 0.5  # seconds between two rounds of tracker attacks
TRACKER_REPLY_TIMEOUT = 5.0  # seconds to wait for the tracker's reply to one attempt
FAKES_PER_ROUND = 2  # fake registrations tried per round
FAKE_HOLD_SECONDS = 7.0  # an accepted fake is held past kConnectBackTimeout (5 s), then dropped
FAKE_HEARTBEAT_SECONDS = 3.0  # heartbeats of a held fake, with its own secret
MAX_HELD_FAKES = 8  # the attacker never holds more (the tracker's per-IP limit should stop it first)
# Not the P2P port 28433 of this host: the unlist attempts register attacker-ip:28433 (the victim's
# port), and a fake held there would make the tracker refuse them as "address in use" instead.
FAKE_KINDS = ("closed_port", "silent", "wrong_magic", "wrong_network", "wrong_nonce")


def learn_nonce(victim):
    """The victim's `version` nonce, from one P2P handshake (every peer learns it); None if the
    handshake fails."""
    try:
        sock = socket.create_connection((victim, P2P_PORT), timeout=5)
    except OSError:
        return None
    raw = u.RawPeer(P2P_PORT, sock=sock)
    try:
        raw.handshake(best_height=0, timeout=5)
        return next((u.version_nonce(pl) for cmd, pl in raw.received if cmd == "version"), None)
    except (u.TestFailure, OSError, struct.error, IndexError):
        return None
    finally:
        raw.close()


def closed_port():
    """A port of this host where nothing listens (bound once by the kernel's choice, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class TrackerAttack:
    """Unlist attempts against the victims and fake registrations from this host's one IP, in
    rounds until `deadline`; `report()` has the attempts and replies by kind."""

    def __init__(self, host, port, nonces, deadline):
        self.host, self.port, self.nonces, self.deadline = host, port, nonces, deadline
        self.attempts = collections.Counter()
        self.replies = collections.defaultdict(collections.Counter)
        self.fakes_accepted = collections.Counter()  # kind -> registrations the tracker accepted
        self.fake_addresses = set()  # ports of this host that were registered
        self.held = []  # [conn, since, last heartbeat, listener or None, registration, kind]
        self.max_held = 0
        self.rounds = 0
        self.fake_no = 0
        self.errors = []

    def connect(self, proxy_line=None):
        try:
            return u.TrackerConn(self.port, ip=None, host=self.host, proxy_line=proxy_line,
                                 timeout=TRACKER_REPLY_TIMEOUT)
        except OSError as e:
            if len(self.errors) < 5:
                self.errors.append(f"connect: {e}")
            return None

    @staticmethod
    def reply(c):
        """The tracker's next answer as (word, payload): `trackererror N`, a command, `closed`, `timeout`."""
        got = c.recv()
        if got is None:
            return c.ended, b""
        if got[0] == "trackererror":
            return f"trackererror {got[1][0] if got[1] else '?'}", got[1]
        return got[0], got[1]

    def attempt(self, kind, act, proxy_line=None):
        """One attempt on a new connection: act(conn), then the reply is counted; returns (word,
        payload, conn) with the connection still open, or None."""
        self.attempts[kind] += 1
        c = self.connect(proxy_line)
        if c is None:
            self.replies[kind]["connect failed"] += 1
            return None
        try:
            act(c)
            word, payload = self.reply(c)
        except OSError:  # the tracker closed before the message was written (PROXY line)
            word, payload = "closed", b""
        except u.TestFailure as e:
            word, payload = "bad frame", b""
            if len(self.errors) < 5:
                self.errors.append(str(e)[:200])
        self.replies[kind][word] += 1
        return word, payload, c

    def once(self, kind, act, proxy_line=None):
        got = self.attempt(kind, act, proxy_line)
        if got is not None:
            got[2].close()

    def probe(self, c, command, payload):
        """Sends one message, then `getstatus`: the first reply tells whether it was refused."""
        c.send(command, payload)
        c.send("getstatus")

    def hijack(self, victim, nonce):
        """Every way to unlist `victim` without its secret (docs/protocol.md 8, "Ownership")."""
        self.once("hijack_register", lambda c: c.register(P2P_PORT, nonce))
        self.once("hijack_heartbeat", lambda c: self.probe(c, "heartbeat", os.urandom(24) + struct.pack("<HH", 0, 54)))
        self.once("hijack_deregister", lambda c: self.probe(c, "deregister", os.urandom(24)))
        line = f"PROXY TCP4 {victim} {self.host} {P2P_PORT} {self.port}\r\n"
        self.once("hijack_proxy", lambda c: c.register(P2P_PORT, nonce), proxy_line=line)

    def guess_secret(self):
        """A registration id the attacker knows (one of its own fakes), a guessed secret: the
        closest it gets to a victim's id. Refused (trackererror 6) or the check is broken."""
        if not self.held:
            return
        reg = self.held[self.rounds % len(self.held)][4]
        self.once("guessed_secret_heartbeat", lambda c: self.probe(c, "heartbeat", reg["id"] + os.urandom(16)
                                                                   + struct.pack("<HH", 0, 54)))
        self.once("guessed_secret_deregister", lambda c: self.probe(c, "deregister", reg["id"] + os.urandom(16)))

    def fake_listener(self, kind):
        """(port, nonce to register, listener or None) for one fake registration of `kind`."""
        nonce = random.getrandbits(64)
        if kind == "closed_port":
            return closed_port(), nonce, None
        opts = {"silent": {"answer": False}, "wrong_magic": {"network": "test", "magic": u.TEST_MAGIC},
                "wrong_network": {"network": "test"}, "wrong_nonce": {}}[kind]
        node = u.FakeNode("0.0.0.0", nonce=nonce ^ (1 if kind == "wrong_nonce" else 0), **opts)
        return node.port, nonce, node

    def fake(self):
        kind = FAKE_KINDS[self.fake_no % len(FAKE_KINDS)]
        self.fake_no += 1
        port, nonce, node = self.fake_listener(kind)
        got = self.attempt("fake_register", lambda c: c.register(port, nonce))
        self.attempts[f"fake_register {kind}"] += 1
        if got is not None and got[0] == "registered" and len(got[1]) >= 46:
            now = time.monotonic()
            self.held.append([got[2], now, now, node, u.TrackerConn.parse_registered(got[1]), kind])
            self.fakes_accepted[kind] += 1
            self.fake_addresses.add(port)
            self.max_held = max(self.max_held, len(self.held))
            return
        if got is not None:
            got[2].close()
        if node is not None:
            node.stop(wait=False)

    def drop(self, entry, deregister=True):
        c, _, _, node, reg, _ = entry
        try:
            if deregister:
                c.deregister(reg["id"], reg["secret"])
        except OSError:
            pass
        c.close()
        if node is not None:
            node.stop(wait=False)

    def tend_fakes(self):
        """Drops the fakes held long enough, heartbeats the others with their own secret."""
        now = time.monotonic()
        keep = []
        for entry in self.held:
            if now - entry[1] >= FAKE_HOLD_SECONDS:
                self.drop(entry)
                continue
            if now - entry[2] >= FAKE_HEARTBEAT_SECONDS:
                entry[2] = now
                self.attempts["fake_heartbeat"] += 1
                try:
                    entry[0].heartbeat(entry[4]["id"], entry[4]["secret"])
                except OSError:
                    self.replies["fake_heartbeat"]["closed"] += 1
                    self.drop(entry, deregister=False)
                    continue
            keep.append(entry)
        self.held = keep

    def run(self):
        try:
            for _ in range(100000):
                if time.monotonic() >= self.deadline:
                    break
                self.rounds += 1
                for victim, nonce in self.nonces.items():
                    if nonce is not None:
                        self.hijack(victim, nonce)
                self.tend_fakes()
                self.guess_secret()
                for _ in range(FAKES_PER_ROUND):
                    if len(self.held) < MAX_HELD_FAKES:
                        self.fake()
                time.sleep(max(0.0, min(TRACKER_ROUND_PAUSE, self.deadline - time.monotonic())))
        except Exception as e:  # noqa: BLE001 - reported (the simulator fails on missing attempts), not lost
            self.errors.append(f"stopped: {type(e).__name__}: {e}"[:200])
        for entry in self.held:
            self.drop(entry)
        self.held = []

    def report(self):
        by_code = collections.Counter()
        for words in self.replies.values():
            for word, k in words.items():
                if word.startswith("trackererror"):
                    by_code[word.split()[1]] += k
        return {"nonces_learned": {v: n is not None for v, n in self.nonces.items()}, "rounds": self.rounds,
                "attempts": dict(self.attempts), "replies": {k: dict(v) for k, v in self.replies.items()},
                "trackererror_codes": dict(by_code), "fakes_accepted": dict(self.fakes_accepted),
                "fake_ports": sorted(self.fake_addresses), "max_held_fakes": self.max_held, "errors": self.errors}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--victim", action="append", required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--genesis", required=True, help="genesis hash, display order")
    p.add_argument("--genesis-time", type=int, required=True)
    p.add_argument("--tip-height", type=int, required=True)
    p.add_argument("--tracker", help="HOST:PORT: attack this tracker too (unlist attempts, fake registrations)")
    opts = p.parse_args()
    # The victims' nonces first: the P2P flood below may get this host discouraged by them.
    nonces = {v: learn_nonce(v) for v in opts.victim} if opts.tracker else {}
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
    tracker = None
    if opts.tracker:
        host, _, port = opts.tracker.rpartition(":")
        tracker = TrackerAttack(host, int(port), nonces, deadline)
        threads.append(threading.Thread(target=tracker.run, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(opts.seconds + PONG_TIMEOUT + 10)
    hashes = [u.display(u.block_hash(block))] + [u.display(u.block_hash(h)) for h in headers]
    result = {"victims": out, "hashes": hashes, "side_headers": SIDE_HEADERS, "addr_per_message": ADDR_PER_MESSAGE}
    if tracker is not None:
        result["tracker"] = tracker.report()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
