"""Helpers for the P2P functional tests (p2p_*_test.py).

Python standard library only (the `cryptography` package is used for Ed25519 when it happens to
be installed; otherwise a small pure-Python Ed25519 signs, which is fast enough for a few dozen
transactions). Contents:

- Ed25519 keys and bech32m addresses (`Key`), signed transfers (`make_transfer`);
- the wire format of docs/protocol.md: frames, `version`, `inv`, headers, blocks (`frame`, ...);
- `RawPeer`: a hand-driven P2P connection to a node, for hostile or scripted peers;
- the tracker conversation: `TrackerConn` (a tracker client), `FakeNode` (a P2P port that answers
  the tracker's connect-back as told), the trackererror codes;
- node helpers: start networked nodes, wait for connections, tips and mempools (every wait bounded).
"""

import hashlib
import json
import os
import random
import socket
import struct
import threading
import time

import framework
from framework import TestFailure, wait_until

REGTEST_MAGIC = bytes.fromhex("facec4ee")
COIN = 100_000_000
MIN_RELAY_FEE = 1000
COINBASE_MATURITY = 10
MAX_PAYLOAD_SIZE = 4 * 1024 * 1024
PROTOCOL_VERSION = 1
SIGNATURE_DOMAIN = b"cheesechain/transfer/v1"

# Every networked node: listen (the harness defaults to -listen=0) and never talk to a tracker.
NET_ARGS = ["-listen=1", "-notracker", "-debug=net"]


# ---------------------------------------------------------------------------------------------
# hashing


def sha256(b):
    return hashlib.sha256(b).digest()


def sha256d(b):
    return sha256(sha256(b))


def display(h):
    """Internal byte order -> the hex that RPC shows (byte-reversed)."""
    return h[::-1].hex()


def internal(hex_display):
    return bytes.fromhex(hex_display)[::-1]


# ---------------------------------------------------------------------------------------------
# Ed25519 (RFC 8032), pure Python; `cryptography` is used instead when available

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_GX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_GY = 46316835694926478169428394003475163141307993866256225615783033603165251855960
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _pt_add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _pt_mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _pt_add(q, p)
        p = _pt_add(p, p)
        s >>= 1
    return q


def _pt_compress(p):
    zinv = pow(p[2], _P - 2, _P)
    x = p[0] * zinv % _P
    y = p[1] * zinv % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand_seed(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public_key_py(seed):
    a, _ = _expand_seed(seed)
    return _pt_compress(_pt_mul(a, _G))


def ed25519_sign_py(seed, msg):
    a, prefix = _expand_seed(seed)
    pub = _pt_compress(_pt_mul(a, _G))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % _L
    big_r = _pt_compress(_pt_mul(r, _G))
    h = int.from_bytes(hashlib.sha512(big_r + pub + msg).digest(), "little") % _L
    s = (r + h * a) % _L
    return big_r + s.to_bytes(32, "little")


try:  # optional: much faster, same (deterministic) signatures
    from cryptography.hazmat.primitives import serialization as _ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as _CryptoKey
except Exception:  # noqa: BLE001 - any import problem means: use the pure-Python code
    _CryptoKey = None


def ed25519_public_key(seed):
    if _CryptoKey is not None:
        return _CryptoKey.from_private_bytes(seed).public_key().public_bytes(_ser.Encoding.Raw, _ser.PublicFormat.Raw)
    return ed25519_public_key_py(seed)


def ed25519_sign(seed, msg):
    if _CryptoKey is not None:
        return _CryptoKey.from_private_bytes(seed).sign(msg)
    return ed25519_sign_py(seed, msg)


def ed25519_self_test():
    """RFC 8032 section 7.1, test 1 and test 2, against the pure-Python code."""
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pub = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert ed25519_public_key_py(seed) == pub, "ed25519 public key (RFC 8032 test 1)"
    assert ed25519_sign_py(seed, b"") == sig, "ed25519 signature (RFC 8032 test 1)"
    seed2 = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    sig2 = bytes.fromhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
    assert ed25519_sign_py(seed2, bytes([0x72])) == sig2, "ed25519 signature (RFC 8032 test 2)"
    assert ed25519_sign(seed2, bytes([0x72])) == sig2, "ed25519 signature (backend)"


# ---------------------------------------------------------------------------------------------
# bech32m (BIP-350) addresses: hrp "rchz", data = the 32-byte key in 5-bit groups

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convertbits(data, frombits, tobits, pad=True):
    acc = bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad and bits:
        ret.append((acc << (tobits - bits)) & maxv)
    return ret


def bech32m_encode(hrp, data8):
    data = _convertbits(data8, 8, 5, True)
    values = _hrp_expand(hrp) + data
    polymod = _polymod(values + [0] * 6) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


class Key:
    """An Ed25519 key pair made from a label (deterministic, so runs are reproducible)."""

    def __init__(self, label):
        self.seed = sha256(b"cheesechain p2p test key " + label.encode())
        self.pub = ed25519_public_key(self.seed)
        self.address = bech32m_encode("rchz", self.pub)

    def sign(self, msg):
        return ed25519_sign(self.seed, msg)


# ---------------------------------------------------------------------------------------------
# transactions


class Transfer:
    def __init__(self, raw):
        self.raw = raw
        self.hex = raw.hex()
        self.txid = display(sha256d(raw))


def make_transfer(key, recipient_pub, amount, fee, nonce, magic=REGTEST_MAGIC):
    """A signed transfer (kind 0): 153 bytes."""
    body = bytes([0]) + key.pub + recipient_pub + struct.pack("<QQQ", amount, fee, nonce)
    sig = key.sign(SIGNATURE_DOMAIN + magic + body)
    return Transfer(body + sig)


def crumbs(value):
    """An RPC amount (Decimal CHZ) -> integer crumbs."""
    return int((value * COIN).to_integral_value())


# ---------------------------------------------------------------------------------------------
# the wire format (docs/protocol.md)


def varint(n):
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def var_string(s):
    b = s.encode() if isinstance(s, str) else s
    return varint(len(b)) + b


def frame(command, payload=b"", magic=REGTEST_MAGIC, checksum=None, length=None):
    cmd = command.encode() if isinstance(command, str) else command
    header = (magic + cmd.ljust(12, b"\0") + struct.pack("<I", len(payload) if length is None else length)
              + (sha256d(payload)[:4] if checksum is None else checksum))
    return header + payload


def version_payload(best_height=0, listen_port=0, nonce=None, network="regtest", user_agent="/p2ptest:0.1/",
                    protocol_version=PROTOCOL_VERSION):
    if nonce is None:
        nonce = random.getrandbits(64)
    return (struct.pack("<IQq", protocol_version, 1, int(time.time())) + var_string(network)
            + struct.pack("<QHQ", best_height, listen_port, nonce) + var_string(user_agent))


INV_TX = 1
INV_BLOCK = 2


def inv_payload(items):
    """items: [(type, 32-byte internal hash)]"""
    return varint(len(items)) + b"".join(struct.pack("<I", t) + h for t, h in items)


def parse_inv(payload):
    n, off = payload[0], 1  # the tests never see more than 252 items in one inv
    if n >= 0xFD:
        n = struct.unpack_from("<H", payload, 1)[0]
        off = 3
    out = []
    for i in range(n):
        t = struct.unpack_from("<I", payload, off + 36 * i)[0]
        out.append((t, payload[off + 36 * i + 4: off + 36 * i + 36]))
    return out


def read_varint(payload, off=0):
    """(value, offset after it) of the varint at `off`."""
    first = payload[off]
    if first < 0xFD:
        return first, off + 1
    size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    return int.from_bytes(payload[off + 1: off + 1 + size], "little"), off + 1 + size


def parse_addr(payload):
    """addr entries as (time, services, ip[16], port)."""
    n, off = read_varint(payload)
    out = []
    for i in range(n):
        t, services = struct.unpack_from("<qQ", payload, off + 34 * i)
        ip = payload[off + 34 * i + 16: off + 34 * i + 32]
        port = struct.unpack_from("<H", payload, off + 34 * i + 32)[0]
        out.append((t, services, ip, port))
    return out


def header_bytes(version, prev, merkle, t, bits, nonce):
    return struct.pack("<I", version) + prev + merkle + struct.pack("<III", t, bits, nonce)


def bits_to_target(bits):
    exponent = bits >> 24
    mantissa = bits & 0x7FFFFF
    return mantissa << (8 * (exponent - 3)) if exponent > 3 else mantissa >> (8 * (3 - exponent))


def hash_meets(header80, bits):
    return int.from_bytes(sha256d(header80), "little") <= bits_to_target(bits)


def merkle_root(txids_internal):
    """Domain-separated merkle root (leaf prefix 0x00, inner prefix 0x01; an odd one is carried up)."""
    level = [sha256d(b"\x00" + t) for t in txids_internal]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            if i + 1 == len(level):
                nxt.append(level[i])
            else:
                nxt.append(sha256d(b"\x01" + level[i] + level[i + 1]))
        level = nxt
    return level[0]


# ---------------------------------------------------------------------------------------------
# blocks built by hand (regtest's proof of work is trivial: about one hash in two meets its target)

REGTEST_BITS = 0x207FFFFF
BLOCK_SUBSIDY = 50 * COIN


def coinbase_bytes(recipient_pub, amount, height, extra=b""):
    """A coinbase (kind 1): recipient, amount, nonce = the block height, extra bytes (at most 100)."""
    return bytes([1]) + recipient_pub + struct.pack("<QQ", amount, height) + varint(len(extra)) + extra


def solve_header(version, prev, merkle, t, bits=REGTEST_BITS, valid_pow=True):
    """The 80-byte header with the first nonce whose hash meets (or, valid_pow=False, misses) the target."""
    for nonce in range(1_000_000):
        header = header_bytes(version, prev, merkle, t, bits, nonce)
        if hash_meets(header, bits) == valid_pow:
            return header
    raise TestFailure("no nonce")


def make_block(prev, height, t, recipient_pub, txs=(), fees=0, extra=b"", bits=REGTEST_BITS):
    """A whole block on `prev` (internal byte order) at `height`: a coinbase paying the subsidy plus
    `fees` to recipient_pub, then the raw transactions `txs`. Returns the serialized block."""
    raw_txs = [coinbase_bytes(recipient_pub, BLOCK_SUBSIDY + fees, height, extra)] + list(txs)
    header = solve_header(1, prev, merkle_root([sha256d(x) for x in raw_txs]), t, bits)
    return header + varint(len(raw_txs)) + b"".join(raw_txs)


def block_hash(block):
    """Internal byte order hash of a serialized block (or of an 80-byte header)."""
    return sha256d(block[:80])


def block_time(block):
    return struct.unpack_from("<I", block, 68)[0]


def headers_payload(headers):
    return varint(len(headers)) + b"".join(h[:80] for h in headers)


# ---------------------------------------------------------------------------------------------
# a hand-driven peer


class RawPeer:
    """A TCP connection to a node's P2P port that speaks frames by hand."""

    def __init__(self, port, timeout=10.0, sock=None):
        """Connects to 127.0.0.1:port, or wraps `sock`, a socket already connected."""
        self.sock = sock if sock is not None else socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False
        self.received = []  # (command, payload) of everything read

    @classmethod
    def small_buffer(cls, port, rcvbuf=4096, timeout=10.0):
        """A peer with a small receive buffer (set before connecting): what the node sends it and it
        does not read stays in the node's own send queue, not in the kernel's buffers."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        return cls(port, sock=s)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        """Sends bytes; False when the node already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def send(self, command, payload=b""):
        return self.send_raw(frame(command, payload))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        except OSError:
            self.closed = True
            return False
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def recv(self, timeout=10.0):
        """The next (command, payload), or None on close or timeout."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            if len(self.buf) >= 24:
                length = struct.unpack_from("<I", self.buf, 16)[0]
                if len(self.buf) >= 24 + length:
                    if self.buf[:4] != REGTEST_MAGIC:
                        raise TestFailure(f"node sent a frame with magic {self.buf[:4].hex()}")
                    cmd = self.buf[4:16].rstrip(b"\0").decode()
                    payload = self.buf[24:24 + length]
                    if sha256d(payload)[:4] != self.buf[20:24]:
                        raise TestFailure(f"node sent {cmd} with a bad checksum")
                    self.buf = self.buf[24 + length:]
                    self.received.append((cmd, payload))
                    return cmd, payload
            if self.closed or not self._fill(deadline):
                return None
        return None

    def expect(self, command, timeout=10.0, answer_pings=True):
        """Reads until `command` arrives (returns its payload); fails on close or timeout."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                raise TestFailure(f"no {command} within {timeout} s (closed={self.closed})")
            if answer_pings and m[0] == "ping":
                self.send("pong", m[1])
            if m[0] == command:
                return m[1]
        raise TestFailure(f"no {command}")

    def handshake(self, best_height=0, listen_port=0, timeout=10.0):
        """version -> (version, verack) -> verack, as the connecting side."""
        self.send("version", version_payload(best_height=best_height, listen_port=listen_port))
        got_version = got_verack = False
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                raise TestFailure(f"handshake failed (closed={self.closed})")
            if m[0] == "version":
                got_version = True
                self.send("verack")
            elif m[0] == "verack":
                got_verack = True
            if got_version and got_verack:
                return
        raise TestFailure("handshake failed")

    def wait_closed(self, timeout=10.0):
        """True if the node closes the connection within `timeout` (messages read meanwhile are kept)."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            if self.closed:
                return True
            if time.monotonic() >= deadline:
                return False
            if len(self.buf) > (1 << 20):
                self.buf = b""
            self._fill(deadline)
        return self.closed

    def still_open(self, seconds=1.0):
        """True if the connection stays open for `seconds` (a ping/pong round trip proves it)."""
        nonce = os.urandom(8)
        if not self.send("ping", nonce):
            return False
        deadline = time.monotonic() + seconds
        for _ in range(100000):
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                return not self.closed
            if m[0] == "pong" and m[1] == nonce:
                return True
        return not self.closed


def raw_key(raw):
    """The ip:port the node sees for a raw peer (what a discouragement on loopback names)."""
    host, port = raw.sock.getsockname()[:2]
    return f"{host}:{port}"


def banned(node):
    return {b["address"] for b in node.rpc("listbanned")}


def saved_addresses(node):
    """The ip:port of every entry of the node's peers.json (version 1: a bare array of entries;
    version 2: {"version": 2, "key": ..., "entries": [...]}). Written at shutdown and every minute."""
    with open(os.path.join(node.datadir, "peers.json"), encoding="utf-8") as f:
        doc = json.load(f)
    entries = doc.get("entries", []) if isinstance(doc, dict) else doc
    return [e.get("addr", "") for e in entries if isinstance(e, dict)]


def connect_raw(node, handshake=False, best_height=0):
    """A RawPeer to node. On loopback a discouragement names the exact ip:port, and the kernel may
    hand a new connection a port discouraged by an earlier test: take another port then (bounded)."""
    bans = banned(node)
    for _ in range(20):
        raw = RawPeer(node.p2p_port)
        if raw_key(raw) not in bans:
            break
        raw.close()
    if handshake:
        raw.handshake(best_height=best_height)
    return raw


# ---------------------------------------------------------------------------------------------
# the tracker conversation (docs/protocol.md 4.6 and 8): a client, and fake P2P ports for the
# tracker's connect-back (tracker_security_test.py, tests/netsim/attacker.py)

TEST_MAGIC = bytes([0x0C, 0x4E, 0x35, 0xE7])
TRACKER_PROTOCOL = 2  # kTrackerProtocolVersion
# trackererror codes (docs/protocol.md 4.6)
OLD_PROTOCOL, NONCE_IN_USE, ADDRESS_IN_USE, TOO_MANY_FROM_IP, FULL, BAD_SECRET, UNKNOWN_ID = 1, 2, 3, 4, 5, 6, 7
CONNECT_BACK_TIMEOUT = 5  # kConnectBackTimeout


def version_nonce(payload):
    """The `nonce` of a `version` payload (docs/protocol.md 4.1): the node registers with it."""
    length, off = read_varint(payload, 20)  # after protocol u32, services u64, time i64: network
    return struct.unpack_from("<Q", payload, off + length + 8 + 2)[0]  # then best_height, listen_port


class FakeNode:
    """A P2P port on `ip` that answers a `version` with its own (nonce, network, magic), or
    (answer=False) accepts and says nothing until the tracker's connect-back gives up."""

    def __init__(self, ip, nonce=None, network="regtest", magic=REGTEST_MAGIC, answer=True, port=0):
        self.ip = ip
        self.nonce = random.getrandbits(64) if nonce is None else nonce
        self.network, self.magic, self.answer = network, magic, answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    if conn.recv(1024) and self.answer:
                        conn.sendall(frame("version", version_payload(nonce=self.nonce, network=self.network),
                                           magic=self.magic))
                        self.handshakes += 1
                    elif not self.answer:
                        time.sleep(CONNECT_BACK_TIMEOUT + 1)  # say nothing until the tracker gives up
                except OSError:
                    pass

    def stop(self, wait=True):
        """Stops accepting; with wait=False the serving thread ends by itself (a silent one after
        its current connection)."""
        self._stop = True
        if wait:
            self._thread.join(timeout=10)
        self.sock.close()


class TrackerConn:
    """A tracker client speaking frames: connects to host:port from source address `ip` (None:
    the kernel's choice), or wraps `sock`, a socket already connected (made inside a namespace)."""

    def __init__(self, port, ip="127.0.0.1", magic=REGTEST_MAGIC, proxy_line=None, host="127.0.0.1", sock=None,
                 timeout=10.0):
        self.magic = magic
        self.ended = None  # why recv() last returned None: "closed" or "timeout"
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                if ip:
                    sock.bind((ip, 0))
                sock.settimeout(timeout)
                sock.connect((host, port))
            except OSError:
                sock.close()
                raise
        self.sock = sock
        if proxy_line:
            self.sock.sendall(proxy_line.encode())

    def close(self):
        self.sock.close()

    def send(self, command, payload=b""):
        self.sock.sendall(frame(command, payload, magic=self.magic))

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                return None
            out += chunk
        return out

    def recv(self):
        """(command, payload), or None when the tracker closed the connection (`ended`: "closed")
        or said nothing within the socket's timeout (`ended`: "timeout")."""
        try:
            header = self._exact(24)
            if header is not None:
                (length,) = struct.unpack("<I", header[16:20])
                payload = self._exact(length) if length else b""
        except socket.timeout:
            self.ended = "timeout"
            return None
        except OSError:  # reset
            header = None
        if header is None or payload is None:
            self.ended = "closed"
            return None
        command = header[4:16].rstrip(b"\0").decode()
        framework.assert_equal(sha256d(payload)[:4], header[20:24], "checksum")
        return command, payload

    def expect(self, want):
        got = self.recv()
        framework.assert_true(got is not None, f"expected {want}, the tracker closed the connection")
        framework.assert_equal(got[0], want, f"reply command (payload {got[1].hex()})")
        return got[1]

    def closed(self):
        return self.recv() is None

    def register(self, port, nonce, inbound=0, max_inbound=54):
        self.send("register", struct.pack("<BHQHH", TRACKER_PROTOCOL, port, nonce, inbound, max_inbound))

    def heartbeat(self, node_id, secret, inbound=0, max_inbound=54):
        self.send("heartbeat", node_id + secret + struct.pack("<HH", inbound, max_inbound))

    def deregister(self, node_id, secret):
        self.send("deregister", node_id + secret)

    @staticmethod
    def parse_registered(p):
        return {"id": p[0:8], "secret": p[8:24], "interval": struct.unpack("<I", p[24:28])[0],
                "observed_ip": socket.inet_ntoa(p[40:44]), "observed_port": struct.unpack("<H", p[44:46])[0]}

    def registered(self, port, nonce):
        self.register(port, nonce)
        return self.parse_registered(self.expect("registered"))

    def refused(self):
        """The trackererror's (code, reason), then the close."""
        p = self.expect("trackererror")
        code, n = p[0], p[1]
        reason = p[2:2 + n].decode()
        framework.assert_true(self.closed(), "the tracker closes after a trackererror")
        return code, reason

    @staticmethod
    def parse_peers(p):
        """(ip, port) of every entry of a `peers` payload (IPv4-mapped addresses as dotted quads)."""
        out = []
        for i in range(p[0]):
            e = p[1 + 34 * i:1 + 34 * (i + 1)]
            ip = socket.inet_ntoa(e[28:32]) if e[16:28] == bytes(10) + b"\xff\xff" \
                else socket.inet_ntop(socket.AF_INET6, e[16:32])
            out.append((ip, struct.unpack("<H", e[32:34])[0]))
        return out

    def peers(self):
        self.send("getpeers")
        return self.parse_peers(self.expect("peers"))


# ---------------------------------------------------------------------------------------------
# nodes


def net_node(t, extra=(), start=True):
    """A node that listens on its P2P port and talks to no tracker."""
    return t.node(extra_args=NET_ARGS + list(extra), start=start)


def tell_address(node, other):
    """One addr entry naming `other`, from an inbound raw peer (its first token of the rate limit)."""
    entry = struct.pack("<qQ", int(time.time()), 1) + bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]) \
        + struct.pack("<H", other.p2p_port)
    with connect_raw(node, handshake=True) as raw:
        raw.send("addr", varint(1) + entry)
        raw.send("ping", struct.pack("<Q", 7))
        raw.expect("pong", timeout=5)


def p2p_addr(node):
    return f"127.0.0.1:{node.p2p_port}"


def peers(node):
    return [p for p in node.rpc("getpeerinfo") if p.get("handshake_done")]


def peer_count(node):
    return len(peers(node))


def connected_to(node, other):
    """True if `node` has a completed handshake with `other` (either direction)."""
    for p in peers(node):
        if p["addr"] == p2p_addr(other) or p.get("listenport") == other.p2p_port:
            return True
    return False


def wait_peers(node, n, timeout=30.0):
    wait_until(lambda: peer_count(node) >= n, timeout=timeout, interval=0.1,
               what=f"node{node.index} to have {n} peers")


def wait_connected(a, b, timeout=30.0):
    wait_until(lambda: connected_to(a, b) and connected_to(b, a), timeout=timeout, interval=0.1,
               what=f"node{a.index} and node{b.index} to be connected")


def wait_same_tip(nodes, timeout=60.0, tip=None):
    def same():
        tips = {n.rpc("getbestblockhash") for n in nodes}
        return len(tips) == 1 and (tip is None or tip in tips)

    try:
        wait_until(same, timeout=timeout, interval=0.1, what="the same tip everywhere")
    except TestFailure:
        state = [(n.index, n.rpc("getblockcount"), n.rpc("getbestblockhash")[:16]) for n in nodes]
        raise TestFailure(f"nodes did not converge on one tip within {timeout} s: {state}")
    return nodes[0].rpc("getbestblockhash")


def wait_in_mempools(nodes, txids, timeout=30.0):
    txids = set(txids)

    def ok():
        return all(txids <= set(n.rpc("getrawmempool")) for n in nodes)

    try:
        wait_until(ok, timeout=timeout, interval=0.1, what="transactions in every mempool")
    except TestFailure:
        state = [(n.index, sorted(txids - set(n.rpc("getrawmempool")))) for n in nodes]
        raise TestFailure(f"transactions missing from mempools after {timeout} s: {state}")


def generate(node, n, address, chunk=500):
    hashes = []
    while n > 0:
        k = min(chunk, n)
        hashes += node.rpc("generatetoaddress", k, address)
        n -= k
    return hashes


def log_text(node):
    """The node's whole debug.log ("" before it exists)."""
    try:
        with open(node.debug_log, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def has_ipv6_loopback():
    """True if this host can bind ::1 (IPv6 tests skip themselves otherwise)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def log_lines(node, needle):
    try:
        with open(node.debug_log, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if needle in line]
    except OSError:
        return []


def check(results, name, fn):
    """Runs one sub-check, records (name, ok, error) and prints it; never raises."""
    t0 = time.monotonic()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failing check is reported
        results.append((name, False, e))
        print(f"  FAIL {name}: {e}")
    else:
        results.append((name, True, None))
        print(f"  ok   {name} ({time.monotonic() - t0:.1f} s)")


def main(tests):
    framework.main(tests)
