"""Bootstrap from several sources (docs/protocol.md 7.5), real nodes on loopback:

  seednode        -seednode: an addr-fetch connection that asks getaddr and closes once the
                  addresses arrive (the seed is a raw listener of this test)
  fixed_seeds     -fixedseedaddr (regtest): with no other source the fixed seeds are dialled at once
  addnode         -addnode keeps trying (the peer restarts), addnode add/remove and getaddednodeinfo
  connect_only    -connect: no seed node, no fixed seed, no other peer
  several_trackers three trackers, one of them down: the node uses the two others and connects to
                  the nodes each of them knows
  bad_options     -fixedseedaddr with a host name, -dnsseedhost on main: clear startup errors

DNS seeds are tested in dns_seed_test.py (a DNS server of its own, in a network namespace).
Run: python3 p2p_bootstrap_test.py --build-dir <cmake build dir>
"""

import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import framework  # noqa: E402
import p2p_util  # noqa: E402
from framework import RpcError, TestFailure, assert_equal, assert_in, assert_true, free_port, wait_until  # noqa: E402
from p2p_util import RawPeer, connected_to, log_text, net_node, p2p_addr, version_payload, wait_connected  # noqa: E402

TRACKER_REL = os.path.join("tracker", "cheese-tracker")


def addr_payload(endpoints):
    """An `addr` of ("127.0.0.1", port) entries (docs/protocol.md 4.5)."""
    out = p2p_util.varint(len(endpoints))
    now = int(time.time())
    for host, port in endpoints:
        ip = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(host)
        out += struct.pack("<qQ", now, 1) + ip + struct.pack("<H", port)
    return out


class Listener:
    """A TCP listener on 127.0.0.1 that the node dials; accepted connections speak frames by hand."""

    def __init__(self):
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]

    def accept(self, timeout):
        """A RawPeer for the next connection, or None within `timeout`."""
        self.srv.settimeout(timeout)
        try:
            conn, _ = self.srv.accept()
        except socket.timeout:
            return None
        return RawPeer(self.port, sock=conn)

    def close(self):
        self.srv.close()


def answer_handshake(raw, timeout=10.0):
    """The accepting side: version in, version + verack out, verack in."""
    raw.expect("version", timeout)
    raw.send("version", version_payload())
    raw.send("verack")
    raw.expect("verack", timeout)


def test_seednode(t):
    seed = Listener()
    try:
        a = net_node(t, [f"-seednode=127.0.0.1:{seed.port}"])
        raw = seed.accept(15)
        assert_true(raw is not None, "the node did not dial its seed node")
        answer_handshake(raw)
        kinds = [p["connection_type"] for p in a.rpc("getpeerinfo")]
        assert_equal(kinds, ["addr-fetch"], "connection kinds")
        raw.expect("getaddr", 10)
        given = [("127.0.0.1", free_port()) for _ in range(3)]  # closed ports: dialled, refused
        raw.send("addr", addr_payload(given))
        assert_true(raw.wait_closed(10), "the addr-fetch connection stayed open after the addresses")
        assert_in("addr-fetch connection: addresses received", log_text(a))
        a.stop()
        saved = set(p2p_util.saved_addresses(a))
        for host, port in given:
            assert_in(f"{host}:{port}", saved, "addresses from the seed node in peers.json")
    finally:
        seed.close()


def test_fixed_seeds(t):
    b = net_node(t)
    a = net_node(t, [f"-fixedseedaddr=127.0.0.1:{b.p2p_port}"])
    # No tracker, no DNS seed (regtest), no -seednode or -addnode: the fixed seeds at once.
    wait_connected(a, b, timeout=20)
    kinds = {p["addr"]: p["connection_type"] for p in a.rpc("getpeerinfo")}
    assert_equal(kinds.get(p2p_addr(b)), "outbound-full-relay")
    assert_in("fixed seed addresses added to the address book", log_text(a))


def test_addnode(t):
    b = net_node(t)
    c = net_node(t)
    a = net_node(t, [f"-addnode={p2p_addr(b)}"])
    wait_connected(a, b)
    info = a.rpc("getaddednodeinfo")
    assert_equal(info, [{"addednode": p2p_addr(b), "connected": True,
                         "addresses": [{"address": p2p_addr(b), "connected": "outbound"}]}])
    # -addnode keeps trying: the peer goes away and comes back.
    b.stop()
    wait_until(lambda: not a.rpc("getaddednodeinfo", p2p_addr(b))[0]["connected"], timeout=20,
               what="the added node to be seen disconnected")
    b.start()
    wait_connected(a, b, timeout=30)
    # addnode add / remove through RPC.
    a.rpc("addnode", p2p_addr(c), "add")
    framework.assert_raises_rpc(-23, "already added", a.rpc, "addnode", p2p_addr(c), "add")
    wait_until(lambda: a.rpc("getaddednodeinfo", p2p_addr(c))[0]["connected"], timeout=30,
               what="the node added by RPC to connect")
    assert_equal(len(a.rpc("getaddednodeinfo")), 2)
    a.rpc("addnode", p2p_addr(c), "remove")
    framework.assert_raises_rpc(-24, "has not been added", a.rpc, "getaddednodeinfo", p2p_addr(c))
    framework.assert_raises_rpc(-24, "has not been added", a.rpc, "addnode", p2p_addr(c), "remove")


def test_connect_only(t):
    b = net_node(t)
    c = net_node(t)
    seed = Listener()
    try:
        a = net_node(t, [f"-connect={p2p_addr(b)}", f"-seednode=127.0.0.1:{seed.port}",
                         f"-fixedseedaddr={p2p_addr(c)}"])
        wait_connected(a, b)
        raw = seed.accept(4)
        assert_true(raw is None, "-connect: the node dialled its seed node")
        assert_true(not connected_to(a, c), "-connect: the node dialled a fixed seed")
        assert_equal([p["addr"] for p in a.rpc("getpeerinfo")], [p2p_addr(b)])
        assert_true("fixed seed" not in log_text(a), "-connect: fixed seeds were added")
        # Without -notracker (which the harness always gives): the regtest default tracker
        # (127.0.0.1:9999) is not used with -connect.
        d = t.node(extra_args=p2p_util.NET_ARGS + [f"-connect={p2p_addr(b)}"], start=False)
        d.args = lambda extra=None, d=d: [x for x in framework.Node.args(d, extra) if x != "-notracker"]
        d.start()
        assert_equal(d.rpc("gettrackerinfo"), [], "trackers with -connect")
        wait_connected(d, b)
    finally:
        seed.close()


class Tracker:
    def __init__(self, build_dir):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cheese_bootstrap_tracker_")
        self.log = open(os.path.join(self.dir, "tracker.log"), "ab")
        self.process = subprocess.Popen([os.path.join(build_dir, TRACKER_REL), "-bind=127.0.0.1",
                                         f"-port={self.port}"], stdout=self.log, stderr=subprocess.STDOUT)

    def addr(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def registered(node):
    return any(s.get("registered") for s in node.rpc("gettrackerinfo"))


def test_several_trackers(t):
    t1, t2 = Tracker(t.build_dir), Tracker(t.build_dir)
    dead = free_port()  # nothing listens there
    try:
        b = net_node(t, [f"-tracker={t1.addr()}"])
        c = net_node(t, [f"-tracker={t2.addr()}"])
        for n in (b, c):
            wait_until(lambda n=n: registered(n), timeout=30, what=f"node{n.index} to register")
        a = net_node(t, [f"-tracker={t1.addr()}", f"-tracker=127.0.0.1:{dead}", f"-tracker={t2.addr()}"])
        wait_until(lambda: connected_to(a, b) and connected_to(a, c), timeout=60,
                   what="the node to reach the peers of both live trackers")
        status = {s["address"]: s for s in a.rpc("gettrackerinfo")}
        assert_equal(len(status), 3)
        assert_true(status[t1.addr()]["registered"] and status[t2.addr()]["registered"], "both live trackers used")
        assert_true(not status[f"127.0.0.1:{dead}"]["registered"], "the dead tracker")
    finally:
        t1.stop()
        t2.stop()


def expect_startup_error(t, args, message):
    n = t.node(start=False)
    p = subprocess.run(n.args(args), capture_output=True, text=True, timeout=30)
    assert_true(p.returncode != 0, f"cheesed {args} started")
    assert_in(message, p.stderr + p.stdout)


def test_bad_options(t):
    expect_startup_error(t, ["-fixedseedaddr=seed.example"], "invalid -fixedseedaddr=seed.example")
    expect_startup_error(t, ["-dnsseedhost=a:b"], "invalid -dnsseedhost=a:b")
    # The main network takes neither: its lists are compiled in.
    n = t.node(start=False)
    args = [a for a in n.args(["-dnsseedhost=seed.example"]) if a != "-regtest"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert_true(p.returncode != 0, "-dnsseedhost on main was accepted")
    assert_in("-dnsseedhost is for the test and regtest networks", p.stderr + p.stdout)


if __name__ == "__main__":
    framework.main([test_seednode, test_fixed_seeds, test_addnode, test_connect_only, test_several_trackers,
                    test_bad_options])
