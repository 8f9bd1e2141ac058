"""DNS seeds (docs/protocol.md 7.5) against a DNS server this test runs itself.

No real host name is ever resolved: the test makes a network namespace of its own (only `lo`, no
route out) whose /etc/resolv.conf (through /etc/netns/NAME/, which `ip netns exec` bind-mounts)
names the test's authoritative DNS responder on 127.0.0.1:53 inside the namespace, and runs
itself again in there. Inside:

  - the responder answers `seed-a.cheese.test` with A 127.0.0.2, A 127.0.0.3 and AAAA ::1, never
    answers `seed-silent.cheese.test`, and NXDOMAIN for anything else;
  - three raw listeners on those addresses at the regtest port 28433 answer the handshake;
  - cheesed -regtest -dnsseedhost=seed-silent... -dnsseedhost=seed-a... starts with an empty book.

Asserted: startup is not held up by the silent seed; the node's address book then holds exactly
the three records of seed-a; it connects to all three; the silent seed is given up after
kDnsSeedTimeout (10 s) although the resolver itself would wait 50 s.

Skipped (exit 77) when not root or when `ip netns` cannot make a namespace. The namespace and
/etc/netns/NAME are removed at exit; leftovers of a killed run (their pid is gone) at the next.
Run: python3 dns_seed_test.py --build-dir <cmake build dir>
"""

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import framework  # noqa: E402
import p2p_util  # noqa: E402
from framework import assert_equal, assert_in, assert_true, wait_until  # noqa: E402

NS_PREFIX = "cbdns"
SEED = "seed-a.cheese.test"
SILENT = "seed-silent.cheese.test"
SEED_A = ["127.0.0.2", "127.0.0.3"]
SEED_AAAA = ["::1"]
REGTEST_PORT = 28433
DNS_TIMEOUT = 10  # kDnsSeedTimeout
# The system resolver in the namespace: one server, 25 s per try, 2 tries (50 s): longer than the
# node's own timeout, so the test shows that the node's bound holds.
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:25 attempts:2\n"
NSSWITCH = "hosts: files dns\n"
HOSTS = "127.0.0.1 localhost\n"


# ---------------------------------------------------------------------------------------------
# outside: the namespace


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def run(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, check=check)


def remove_namespace(name):
    run("ip", "netns", "del", name, check=False)
    shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


def remove_leftovers():
    """Namespaces of earlier runs whose process is gone."""
    out = run("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.strip() else ""
        pid = name[len(NS_PREFIX):]
        if name.startswith(NS_PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            remove_namespace(name)


def outer(build_dir):
    if os.geteuid() != 0:
        skip("not root: cannot make a network namespace")
    if shutil.which("ip") is None:
        skip("no `ip` (iproute2)")
    remove_leftovers()
    name = f"{NS_PREFIX}{os.getpid()}"
    had_netns_dir = os.path.isdir("/etc/netns")
    try:
        try:
            run("ip", "netns", "add", name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        except (subprocess.SubprocessError, OSError) as e:
            skip(f"cannot make a network namespace: {e}")
        etc = f"/etc/netns/{name}"
        os.makedirs(etc, exist_ok=True)
        for file, text in (("resolv.conf", RESOLV_CONF), ("nsswitch.conf", NSSWITCH), ("hosts", HOSTS)):
            if os.path.exists(f"/etc/{file}"):  # ip netns exec bind-mounts only over existing files
                with open(os.path.join(etc, file), "w", encoding="ascii") as f:
                    f.write(text)
        p = subprocess.run(["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__),
                            "--inner", "--build-dir", build_dir], timeout=300, check=False)
        return p.returncode
    finally:
        remove_namespace(name)
        if not had_netns_dir:
            try:
                os.rmdir("/etc/netns")  # only when this run made it and it is empty again
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# inside: the DNS responder, the listeners, the node


def dns_name(data, off):
    labels = []
    for _ in range(128):
        n = data[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n
    raise ValueError("name too long")


class DnsResponder:
    """An authoritative DNS server on 127.0.0.1:53 (UDP) for two names."""

    def __init__(self, with_aaaa):
        self.records = {SEED: {1: [socket.inet_aton(a) for a in SEED_A],
                               28: [socket.inet_pton(socket.AF_INET6, a) for a in SEED_AAAA] if with_aaaa else []},
                        SILENT: None}
        self.queries = []  # (name, qtype)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def answer(self, query):
        qid, _flags, qdcount = struct.unpack_from(">HHH", query)
        if qdcount != 1:
            return None
        name, off = dns_name(query, 12)
        qtype, _qclass = struct.unpack_from(">HH", query, off)
        question = query[12:off + 4]
        self.queries.append((name, qtype))
        if name not in self.records:
            return struct.pack(">HHHHHH", qid, 0x8583, 1, 0, 0, 0) + question  # NXDOMAIN, authoritative
        if self.records[name] is None:
            return None  # the silent seed
        rdatas = self.records[name].get(qtype, [])
        out = struct.pack(">HHHHHH", qid, 0x8580, 1, len(rdatas), 0, 0) + question
        for rdata in rdatas:
            out += struct.pack(">HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
        return out

    def serve(self):
        for _ in range(10_000_000):
            if self.stopped:
                return
            try:
                query, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self.answer(query)
            except (ValueError, IndexError, struct.error):
                continue
            if reply is not None:
                self.sock.sendto(reply, peer)

    def stop(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


class PeerListener:
    """Accepts the node's connections on ip:28433 and answers version/verack (then pings)."""

    def __init__(self, ip):
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.ip = ip
        self.srv = socket.socket(family, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((ip, REGTEST_PORT))
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.handshakes = 0
        self.stopped = False
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        for _ in range(10_000_000):
            if self.stopped:
                return
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(conn)
            raw = p2p_util.RawPeer(REGTEST_PORT, sock=conn)
            try:
                raw.expect("version", 10)
                raw.send("version", p2p_util.version_payload())
                raw.send("verack")
                raw.expect("verack", 10)
                self.handshakes += 1
            except (framework.TestFailure, OSError):
                pass

    def stop(self):
        self.stopped = True
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.srv.close()


def endpoint(ip):
    return f"[{ip}]:{REGTEST_PORT}" if ":" in ip else f"{ip}:{REGTEST_PORT}"


def test_dns_seeds(t):
    with_aaaa = p2p_util.has_ipv6_loopback()
    records = SEED_A + (SEED_AAAA if with_aaaa else [])
    expected = {endpoint(ip) for ip in records}
    dns = DnsResponder(with_aaaa)
    listeners = [PeerListener(ip) for ip in records]
    try:
        started = time.monotonic()
        node = t.node(extra_args=[f"-dnsseedhost={SILENT}", f"-dnsseedhost={SEED}", "-debug=net"])
        ready = time.monotonic() - started
        assert_true(ready < DNS_TIMEOUT, f"startup took {ready:.1f} s: held up by the silent seed")
        wait_until(lambda: all(lst.handshakes >= 1 for lst in listeners), timeout=20,
                   what="the node to connect to every address of the seed")
        connected = {p["addr"] for p in node.rpc("getpeerinfo") if p.get("handshake_done")}
        assert_equal(connected, expected, "peers")
        assert_equal(node.rpc("getnetworkinfo")["addressbook"], len(expected), "address book size")
        assert_in(f"DNS seed {SEED}: {len(expected)} addresses", p2p_util.log_text(node))
        # The silent seed: given up by the node's own timeout, long before the resolver's 50 s.
        wait_until(lambda: f"DNS seed {SILENT}: no address" in p2p_util.log_text(node), timeout=DNS_TIMEOUT + 10,
                   what="the silent seed to be given up")
        gave_up = time.monotonic() - started
        assert_true(gave_up < 30, f"the silent seed was given up after {gave_up:.1f} s")
        asked = {name for name, _ in dns.queries}
        assert_true({SEED, SILENT} <= asked, f"queries seen: {sorted(asked)}")
        node.stop()
        assert_equal(set(p2p_util.saved_addresses(node)), expected, "peers.json: exactly the seed's records")
        print(f"ready in {ready:.2f} s; silent seed given up after {gave_up:.1f} s; records {sorted(expected)}")
    finally:
        for lst in listeners:
            lst.stop()
        dns.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    opts, _ = parser.parse_known_args()
    if opts.inner:
        sys.argv = [a for a in sys.argv if a != "--inner"]  # framework.main parses the rest
        framework.main([test_dns_seeds])
    sys.exit(outer(opts.build_dir))


if __name__ == "__main__":
    main()
