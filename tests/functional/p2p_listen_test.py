"""Listening as bitcoind (docs/protocol.md 7.6): -bind, dual-stack listening, -externalip in
version and in the node's own addr, -onlynet, getnetworkinfo, and clear start errors.

Loopback only: 127.0.0.0/8 and ::1. The IPv6 cases report themselves skipped (and pass) on a host
without an IPv6 loopback.
"""

import os
import socket
import struct
import sys
import time

import framework
import p2p_util as u
from framework import TestFailure, assert_equal, assert_in, assert_true, wait_until

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracker_test  # noqa: E402  (its Tracker: a real cheese-tracker on 127.0.0.1)


IPV6 = u.has_ipv6_loopback()


def skip(what):
    print(f"  SKIPPED: {what}: this host has no IPv6 loopback (::1)")


def free_port_on(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def connect(host, port, timeout=5.0):
    """A RawPeer connected to host:port (IPv4 or IPv6)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return u.RawPeer(port, sock=s)


def refused(host, port):
    try:
        connect(host, port, timeout=2.0).close()
        return False
    except ConnectionRefusedError:
        return True


def parse_version(payload):
    """The fields of a version payload, with addr_from ("ip:port" or None) and relay."""
    protocol, services, timestamp = struct.unpack_from("<IQq", payload, 0)
    n, off = u.read_varint(payload, 20)
    network = payload[off:off + n].decode()
    off += n
    best_height, listen_port, nonce = struct.unpack_from("<QHQ", payload, off)
    off += 18
    n, off = u.read_varint(payload, off)
    user_agent = payload[off:off + n].decode()
    off += n
    tail = payload[off:]
    addr_from = None
    if len(tail) == 19:
        addr_from = ip_port(tail[1:17], struct.unpack_from("<H", tail, 17)[0])
    elif len(tail) not in (0, 1):
        raise TestFailure(f"version tail of {len(tail)} bytes: {tail.hex()}")
    return {"protocol": protocol, "network": network, "listen_port": listen_port, "nonce": nonce,
            "user_agent": user_agent, "addr_from": addr_from, "relay": not tail or tail[0] == 1}


def ip_port(ip16, port):
    if ip16[:12] == bytes(10) + b"\xff\xff":
        return f"{socket.inet_ntop(socket.AF_INET, ip16[12:])}:{port}"
    return f"[{socket.inet_ntop(socket.AF_INET6, ip16)}]:{port}"


def ip16(text):
    if ":" in text:
        return socket.inet_pton(socket.AF_INET6, text)
    return bytes(10) + b"\xff\xff" + socket.inet_aton(text)


def addr_payload(entries):
    """addr with [(ip text, port)], time now, services 1."""
    out = u.varint(len(entries))
    for host, port in entries:
        out += struct.pack("<qQ", int(time.time()), 1) + ip16(host) + struct.pack("<H", port)
    return out


def version_from(raw, protocol_version=2, listen_port=0):
    """Sends our version as the dialling side; returns the node's version, parsed."""
    raw.send("version", u.version_payload(listen_port=listen_port, protocol_version=protocol_version))
    got = parse_version(raw.expect("version", timeout=5))
    raw.send("verack")
    raw.expect("verack", timeout=5)
    return got


class Listener:
    """A listening socket on host (127.0.0.x or ::1) that a node may dial."""

    def __init__(self, host):
        self.host = host
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = []

    def accept(self, timeout):
        """A RawPeer for the next connection, or None after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            conn, _ = self.sock.accept()
        except socket.timeout:
            return None
        conn.settimeout(10)
        raw = u.RawPeer(self.port, sock=conn)
        self.accepted.append(raw)
        return raw

    def close(self):
        for raw in self.accepted:
            raw.close()
        self.sock.close()


def answer_handshake(raw):
    """As the accepting side: the node's version (parsed), then our version and verack."""
    theirs = parse_version(raw.expect("version", timeout=10))
    raw.send("version", u.version_payload(protocol_version=2))
    raw.send("verack")
    raw.expect("verack", timeout=10)
    return theirs


def start_error(t, args):
    """Starts a node expected to refuse `args`; returns its stderr."""
    n = t.node(extra_args=args, start=False, listen=True)
    n.start(wait=False)
    rc = n.wait_exit(timeout=20)
    assert_true(rc != 0, f"cheesed with {args} exited with {rc}, not an error")
    return n.stderr_text()


def info(node):
    return node.rpc("getnetworkinfo")


# ---------------------------------------------------------------------------------------------


def test_bind_one_address(t):
    """-bind=127.0.0.2:port: it listens there only; 127.0.0.1:port is refused."""
    port = free_port_on("127.0.0.2")
    n = t.node(extra_args=[f"-bind=127.0.0.2:{port}"], listen=True)
    with connect("127.0.0.2", port) as raw:
        v = version_from(raw)
        assert_equal(v["listen_port"], port, "version.listen_port")
    assert_true(refused("127.0.0.1", port), f"127.0.0.1:{port} accepted a connection")
    i = info(n)
    assert_equal(i["listenaddresses"], [f"127.0.0.2:{port}"], "listenaddresses")
    assert_equal(i["port"], port, "port")
    # A specific bound address is advertised (score 2: LOCAL_BIND) on regtest.
    assert_equal(i["localaddresses"], [{"address": "127.0.0.2", "port": port, "score": 2}], "localaddresses")


def test_two_binds(t):
    """Two -bind: both listen; version's listen_port is the first one's."""
    p1, p3 = free_port_on("127.0.0.1"), free_port_on("127.0.0.3")
    n = t.node(extra_args=[f"-bind=127.0.0.1:{p1}", f"-bind=127.0.0.3:{p3}"], listen=True)
    for host, port in (("127.0.0.1", p1), ("127.0.0.3", p3)):
        with connect(host, port) as raw:
            assert_equal(version_from(raw)["listen_port"], p1, f"listen_port seen on {host}:{port}")
    assert_equal(info(n)["listenaddresses"], [f"127.0.0.1:{p1}", f"127.0.0.3:{p3}"], "listenaddresses")


def test_bind_ipv6_loopback(t):
    """-bind=[::1]:port: IPv6 only there; 127.0.0.1:port refused."""
    if not IPV6:
        return skip("-bind=[::1]")
    port = free_port_on("::1")
    n = t.node(extra_args=[f"-bind=[::1]:{port}"], listen=True)
    with connect("::1", port) as raw:
        assert_equal(version_from(raw)["listen_port"], port, "listen_port")
    assert_true(refused("127.0.0.1", port), f"127.0.0.1:{port} accepted a connection")
    i = info(n)
    assert_equal(i["listenaddresses"], [f"[::1]:{port}"], "listenaddresses")
    assert_equal(i["localaddresses"], [{"address": "::1", "port": port, "score": 2}], "localaddresses")
    # A peer connected over IPv6 appears with its IPv6 address.
    with connect("::1", port) as raw:
        version_from(raw)
        wait_until(lambda: any(p["addr"].startswith("[::1]:") for p in n.rpc("getpeerinfo")), timeout=5,
                   what="an IPv6 peer in getpeerinfo")


def test_dual_stack_by_default(t):
    """No -bind: [::] (IPv6 only) and 0.0.0.0 on one port; accepts from ::1 and 127.0.0.1."""
    n = t.node(listen=True)
    port = n.p2p_port
    i = info(n)
    if not IPV6:
        assert_equal(i["listenaddresses"], [f"0.0.0.0:{port}"], "listenaddresses without IPv6")
        return skip("dual-stack from ::1")
    assert_equal(i["listenaddresses"], [f"[::]:{port}", f"0.0.0.0:{port}"], "listenaddresses")
    assert_equal(i["localaddresses"], [], "no local address to advertise (wildcards only)")
    for host in ("::1", "127.0.0.1"):
        with connect(host, port) as raw:
            v = version_from(raw)
            assert_equal(v["addr_from"], None, f"addr_from seen from {host}")
            assert_equal(v["protocol"], 3, "protocol version")
    assert_equal([(x["name"], x["reachable"], x["limited"]) for x in i["networks"]],
                 [("ipv4", True, False), ("ipv6", True, False)], "networks")


def test_externalip_in_version_and_addr(t):
    """-externalip: in version's addr_from (not to a protocol-1 peer) and in the node's own addr."""
    n = t.node(extra_args=["-externalip=127.0.0.42", "-debug=net"], listen=True)
    port = n.p2p_port
    with connect("127.0.0.1", port) as raw:
        v = version_from(raw, protocol_version=2)
        assert_equal(v["addr_from"], f"127.0.0.42:{port}", "addr_from (default port: the listen port)")
    with connect("127.0.0.1", port) as raw:
        assert_equal(version_from(raw, protocol_version=1)["addr_from"], None, "addr_from to a version-1 peer")
    assert_equal(info(n)["localaddresses"], [{"address": "127.0.0.42", "port": port, "score": 4}],
                 "localaddresses")
    # Dialling out: addr_from in its version, then its own address in an addr after the handshake.
    listener = Listener("127.0.0.44")
    try:
        n.rpc("addnode", f"127.0.0.44:{listener.port}", "onetry")
        raw = listener.accept(timeout=10)
        if raw is None:
            raise TestFailure("the node did not dial 127.0.0.44")
        assert_equal(answer_handshake(raw)["addr_from"], f"127.0.0.42:{port}", "addr_from when dialling")
        entries = u.parse_addr(raw.expect("addr", timeout=10))
        assert_equal([ip_port(e[2], e[3]) for e in entries], [f"127.0.0.42:{port}"], "self-announcement")
    finally:
        listener.close()


def test_externalip_with_port_and_ipv6(t):
    """-externalip with a port; an IPv6 peer gets the IPv6 one, an IPv4 peer the IPv4 one."""
    args = ["-externalip=127.0.0.43:1234"] + (["-externalip=[::1]:4321"] if IPV6 else [])
    n = t.node(extra_args=args, listen=True)
    with connect("127.0.0.1", n.p2p_port) as raw:
        assert_equal(version_from(raw)["addr_from"], "127.0.0.43:1234", "addr_from to an IPv4 peer")
    if not IPV6:
        return skip("-externalip=[::1]")
    with connect("::1", n.p2p_port) as raw:
        assert_equal(version_from(raw)["addr_from"], "[::1]:4321", "addr_from to an IPv6 peer")


def test_inbound_addr_from_is_relayed(t):
    """A node that dials out with -externalip is recorded at that address by the node it dials,
    which relays it: a third peer of that node hears the -externalip, not 127.0.0.1:<port>."""
    a = t.node(extra_args=u.NET_ARGS, listen=True)
    with u.connect_raw(a, handshake=True) as watcher:  # a full-relay inbound peer of a
        b = t.node(extra_args=u.NET_ARGS + ["-externalip=127.0.0.45", f"-addnode={u.p2p_addr(a)}"], listen=True)
        deadline = time.monotonic() + 20
        heard = []
        for _ in range(100):
            payload = watcher.expect("addr", timeout=max(0.1, deadline - time.monotonic()))
            heard += [ip_port(e[2], e[3]) for e in u.parse_addr(payload)]
            if f"127.0.0.45:{b.p2p_port}" in heard:
                break
        assert_in(f"127.0.0.45:{b.p2p_port}", heard, "address relayed by a")
        assert_true(f"127.0.0.1:{b.p2p_port}" not in heard, "a relayed b's connection address instead")


def test_tracker_observed_address(t):
    """Without -externalip the address a tracker saw is advertised (score 1); with it, not."""
    tr = tracker_test.Tracker(t.build_dir).start()
    try:
        n = t.node(extra_args=[f"-tracker=127.0.0.1:{tr.port}"], listen=True)
        wait_until(lambda: info(n)["localaddresses"], timeout=15, what="the tracker's observation")
        assert_equal(info(n)["localaddresses"], [{"address": "127.0.0.1", "port": n.p2p_port, "score": 1}],
                     "localaddresses from the tracker")
        with connect("127.0.0.1", n.p2p_port) as raw:
            assert_equal(version_from(raw)["addr_from"], f"127.0.0.1:{n.p2p_port}", "addr_from")
        m = t.node(extra_args=[f"-tracker=127.0.0.1:{tr.port}", "-externalip=127.0.0.46"], listen=True)
        wait_until(lambda: any(e["registered"] for e in m.rpc("gettrackerinfo")), timeout=15,
                   what="registered with the tracker")
        assert_equal(info(m)["localaddresses"], [{"address": "127.0.0.46", "port": m.p2p_port, "score": 4}],
                     "-externalip replaces what the tracker saw")
    finally:
        tr.kill()


def _dials(t, onlynet):
    """A node told (by addr from inbound peers) of a 127.0.0.x and a [::1] listener: (node, dialled
    the IPv4 one, dialled the IPv6 one)."""
    v4, v6 = Listener("127.0.0.50"), Listener("::1")
    extra = [f"-onlynet={onlynet}"] if onlynet else []
    n = t.node(extra_args=u.NET_ARGS + extra, listen=True)
    feeders = []
    try:
        # Two inbound peers, one address each (a peer's one starting token): IPv4 first.
        for host, port in (("127.0.0.50", v4.port), ("::1", v6.port)):
            raw = u.connect_raw(n, handshake=True)
            raw.send("addr", addr_payload([(host, port)]))
            feeders.append(raw)
        got_v6 = v6.accept(timeout=15)
        got_v4 = v4.accept(timeout=3 if onlynet else 15)
        return n, got_v4 is not None, got_v6 is not None
    finally:
        for raw in feeders:
            raw.close()
        v4.close()
        v6.close()


def test_onlynet_ipv6(t):
    """-onlynet=ipv6: the IPv4 address it is told about is not dialled, the IPv6 one is; without
    -onlynet both are (the control)."""
    if not IPV6:
        return skip("-onlynet=ipv6")
    n, v4, v6 = _dials(t, "ipv6")
    assert_true(v6, "the node did not dial the IPv6 address")
    assert_true(not v4, "-onlynet=ipv6 dialled an IPv4 address")
    assert_equal([(x["name"], x["reachable"], x["limited"]) for x in info(n)["networks"]],
                 [("ipv4", False, True), ("ipv6", True, False)], "networks")
    _, v4, v6 = _dials(t, None)
    assert_true(v4 and v6, f"without -onlynet the node dialled ipv4={v4} ipv6={v6}")


def test_bad_values_are_start_errors(t):
    """Bad -bind, -externalip and -onlynet values stop the start with a clear message."""
    cases = [
        (["-bind=garbage"], "invalid -bind=garbage"),
        (["-bind=127.0.0.1:99999"], "invalid -bind=127.0.0.1:99999"),
        (["-bind=::1:28433"], "invalid -bind=::1:28433"),
        (["-onlynet=foo"], "unknown network in -onlynet=foo: use ipv4 or ipv6"),
        (["-onlynet=onion"], "unknown network in -onlynet=onion"),
        (["-externalip=nonsense"], "invalid -externalip=nonsense"),
        (["-externalip=0.0.0.0"], "invalid -externalip=0.0.0.0"),
        (["-onlynet=ipv6", "-externalip=127.0.0.9"], "-externalip=127.0.0.9 is an ipv4 address"),
    ]
    for args, message in cases:
        assert_in(message, start_error(t, args), f"stderr for {args}")
    # -bind with -listen=0.
    n = t.node(extra_args=["-bind=127.0.0.1"], start=False)
    n.start(wait=False)
    assert_true(n.wait_exit(timeout=20) != 0, "-bind with -listen=0 started")
    assert_in("-bind and -listen=0", n.stderr_text(), "stderr")
    # An address in use: the error names it.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        err = start_error(t, [f"-bind=127.0.0.1:{port}"])
        assert_in(f"cannot listen for peers on 127.0.0.1:{port} (-bind)", err, "stderr for a taken address")
    finally:
        busy.close()


if __name__ == "__main__":
    framework.main([test_bind_one_address, test_two_binds, test_bind_ipv6_loopback, test_dual_stack_by_default,
                    test_externalip_in_version_and_addr, test_externalip_with_port_and_ipv6,
                    test_inbound_addr_from_is_relayed, test_tracker_observed_address, test_onlynet_ipv6,
                    test_bad_values_are_start_errors])
