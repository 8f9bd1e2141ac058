#!/usr/bin/env python3
"""JSON-RPC over a real socket: the 2.0 specification's examples, legacy 1.0 replies, parameter
checks, authentication and the cookie, HTTP limits, shutdown, and the chain methods of a fresh
regtest node."""

import hashlib
import http.client
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import time
from decimal import Decimal

import framework
from framework import (HttpError, RpcError, assert_equal, assert_in, assert_raises_rpc, assert_true,
                       http_status, read_all, wait_until)

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3


def bech32m_encode(hrp, data8):
    """Reference bech32m (BIP-350) of 8-bit data, to build addresses of other networks."""
    acc = bits = 0
    data5 = []
    for b in data8:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data5.append((acc >> bits) & 31)
    if bits:
        data5.append((acc << (5 - bits)) & 31)

    def polymod(values):
        gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
        chk = 1
        for v in values:
            top = chk >> 25
            chk = (chk & 0x1FFFFFF) << 5 ^ v
            for i in range(5):
                chk ^= gen[i] if ((top >> i) & 1) else 0
        return chk

    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = polymod(expanded + data5 + [0] * 6) ^ BECH32M_CONST
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data5 + checksum)


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def make_block(prev_hash, height, time_, bits, recipient, amount_crumbs, extra=b"functional test"):
    """A block of one coinbase on top of prev_hash (display hex), mined to regtest's easy target.
    Layouts: docs/protocol.md (Bitcoin's 80-byte header; a domain-separated merkle root)."""
    coinbase = bytes([1]) + recipient + struct.pack("<QQ", amount_crumbs, height) + bytes([len(extra)]) + extra
    merkle_root = sha256d(b"\x00" + sha256d(coinbase))
    header = bytearray(struct.pack("<I", 1) + bytes.fromhex(prev_hash)[::-1] + merkle_root +
                       struct.pack("<III", time_, bits, 0))
    exponent, mantissa = bits >> 24, bits & 0xFFFFFF
    target = mantissa << (8 * (exponent - 3))
    for nonce in range(1 << 16):
        header[76:80] = struct.pack("<I", nonce)
        if int.from_bytes(sha256d(bytes(header)), "little") <= target:
            break
    return (bytes(header) + bytes([1]) + coinbase).hex(), sha256d(bytes(header))[::-1].hex()


def check_v2_result(reply, id_):
    assert_true(isinstance(reply, dict), f"not an object: {reply!r}")
    assert_equal(reply.get("jsonrpc"), "2.0", "jsonrpc member")
    assert_in("result", reply)
    assert_true("error" not in reply, f"result and error together: {reply!r}")
    assert_equal(reply["id"], id_, "id")
    assert_equal(len(reply), 3, "members")
    return reply["result"]


def check_v2_error(reply, code, id_):
    assert_true(isinstance(reply, dict), f"not an object: {reply!r}")
    assert_equal(reply.get("jsonrpc"), "2.0", "jsonrpc member")
    assert_true("result" not in reply, f"result and error together: {reply!r}")
    assert_equal(reply["id"], id_, "id")
    assert_equal(reply["error"]["code"], code, f"error code in {reply!r}")
    assert_true(isinstance(reply["error"]["message"], str) and reply["error"]["message"], "error message")
    assert_equal(len(reply), 3, "members")
    return reply["error"]["message"]


def http_request(node, method, path, headers, body=b""):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for k, v in headers.items():
        head += f"{k}: {v}\r\n"
    return head.encode() + b"\r\n" + body


def rpc_bytes(node, payload, auth=True):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if auth:
        headers["Authorization"] = node.auth_header()
    return http_request(node, "POST", "/", headers, body)


# ---------------------------------------------------------------------------------------------
# JSON-RPC 2.0: the specification's examples (section 7) with real methods


def test_spec_examples(t):
    node = t.shared_node()
    genesis = node.rpc("getblockhash", 0)

    # positional and named parameters
    status, r = node.post_json({"jsonrpc": "2.0", "method": "getblockhash", "params": [0], "id": 1})
    assert_equal(status, 200)
    assert_equal(check_v2_result(r, 1), genesis)
    status, r = node.post_json({"jsonrpc": "2.0", "method": "getblockhash", "params": {"height": 0}, "id": 2})
    assert_equal(check_v2_result(r, 2), genesis)
    status, r = node.post_json({"jsonrpc": "2.0", "method": "getblockheader",
                                "params": {"verbose": False, "blockhash": genesis}, "id": "x"})
    assert_equal(len(check_v2_result(r, "x")), 160)

    # a notification: 204, no body
    status, headers, data = node.http("POST", "/", json.dumps({"jsonrpc": "2.0", "method": "getblockcount"}))
    assert_equal(status, 204)
    assert_equal(data, b"")
    status, _, data = node.http("POST", "/", json.dumps({"jsonrpc": "2.0", "method": "foobar", "params": [1]}))
    assert_equal((status, data), (204, b""), "a notification of an unknown method")

    # non-existent method
    status, r = node.post_json({"jsonrpc": "2.0", "method": "foobar", "id": "1"})
    assert_equal(status, 200)
    assert_in("foobar", check_v2_error(r, -32601, "1"))

    # invalid JSON
    status, r = node.post_json('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert_equal(status, 500)
    check_v2_error(r, -32700, None)

    # invalid request object: answered although it has no id
    status, r = node.post_json('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    assert_equal(status, 200)
    check_v2_error(r, -32600, None)

    # batch, invalid JSON: one error, not an array
    status, r = node.post_json('[{"jsonrpc": "2.0", "method": "getblockcount", "params": [], "id": "1"},'
                               '{"jsonrpc": "2.0", "method"\n]')
    check_v2_error(r, -32700, None)

    # empty array: one error, not an array
    status, r = node.post_json("[]")
    assert_equal(status, 200)
    check_v2_error(r, -32600, None)

    # invalid batch, but not empty
    status, r = node.post_json("[1]")
    assert_true(isinstance(r, list) and len(r) == 1, f"{r!r}")
    check_v2_error(r[0], -32600, None)

    # invalid batch
    status, r = node.post_json("[1,2,3]")
    assert_true(isinstance(r, list) and len(r) == 3, f"{r!r}")
    for e in r:
        check_v2_error(e, -32600, None)

    # mixed batch
    status, r = node.post_json([
        {"jsonrpc": "2.0", "method": "getblockhash", "params": [0], "id": "1"},
        {"jsonrpc": "2.0", "method": "getblockcount", "params": []},
        {"jsonrpc": "2.0", "method": "getblockheader", "params": [genesis, False], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "getblockcount", "id": "9"},
    ])
    assert_equal(status, 200)
    assert_true(isinstance(r, list) and len(r) == 5, f"expected 5 responses: {r!r}")
    assert_equal(check_v2_result(r[0], "1"), genesis)
    assert_equal(len(check_v2_result(r[1], "2")), 160)
    check_v2_error(r[2], -32600, None)
    check_v2_error(r[3], -32601, "5")
    assert_equal(check_v2_result(r[4], "9"), 0)

    # all notifications: nothing at all
    status, _, data = node.http("POST", "/", json.dumps([
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2, 4]},
        {"jsonrpc": "2.0", "method": "getblockcount", "params": []},
    ]))
    assert_equal((status, data), (204, b""))


def test_jsonrpc_details(t):
    node = t.shared_node()
    # ids are echoed exactly, whatever their JSON type
    for id_ in ["abc", 0, -1, 2 ** 63, None, ""]:
        _, r = node.post_json({"jsonrpc": "2.0", "method": "getblockcount", "id": id_})
        assert_equal(check_v2_result(r, id_), 0)
    _, _, data = node.http("POST", "/", '{"jsonrpc": "2.0", "method": "getblockcount", "id": 1.250}')
    assert_in(b'"id":1.250', data, "a fractional id is echoed byte for byte")
    _, r = node.post_json({"jsonrpc": "2.0", "method": "getblockcount", "id": [1]})
    check_v2_error(r, -32600, None)
    _, r = node.post_json({"jsonrpc": "3.0", "method": "getblockcount", "id": 1})
    check_v2_error(r, -32600, 1)
    _, r = node.post_json({"jsonrpc": "2.0", "method": "getblockcount", "params": "x", "id": 1})
    check_v2_error(r, -32600, 1)
    # content-type does not matter (curl sends text/plain)
    status, _, data = node.http("POST", "/", '{"jsonrpc":"2.0","method":"getblockcount","id":1}',
                                headers={"Content-Type": "text/plain"})
    assert_equal((status, json.loads(data)["result"]), (200, 0))
    # keep-alive: several requests on one connection
    conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=10)
    try:
        for i in range(3):
            conn.request("POST", "/", json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": i}),
                         {"Authorization": node.auth_header()})
            res = conn.getresponse()
            assert_equal(check_v2_result(json.loads(res.read()), i), 0)
    finally:
        conn.close()


def test_legacy(t):
    node = t.shared_node()

    def legacy(payload, expected_status):
        status, r = node.post_json(payload)
        assert_equal(status, expected_status, f"HTTP status for {payload!r}")
        assert_true(isinstance(r, dict), f"{r!r}")
        assert_true("jsonrpc" not in r, f"legacy reply with a jsonrpc member: {r!r}")
        assert_equal(sorted(r), ["error", "id", "result"])
        return r

    r = legacy({"method": "getblockcount", "params": [], "id": "curltest"}, 200)
    assert_equal((r["result"], r["error"], r["id"]), (0, None, "curltest"))
    # bitcoind's documentation shows {"jsonrpc": "1.0", ...}: also legacy
    r = legacy({"jsonrpc": "1.0", "method": "getblockcount", "params": [], "id": 7}, 200)
    assert_equal((r["result"], r["error"], r["id"]), (0, None, 7))
    r = legacy({"method": "getblockcount"}, 200)
    assert_equal(r["id"], None)
    r = legacy({"method": "nosuchmethod", "params": [], "id": 1}, 404)
    assert_equal((r["result"], r["error"]["code"]), (None, -32601))
    r = legacy({"method": "getblockhash", "params": [5], "id": 1}, 500)
    assert_equal((r["result"], r["error"]["code"]), (None, -8))
    r = legacy({"method": "getblockhash", "params": ["x"], "id": 1}, 500)
    assert_equal(r["error"]["code"], -32602)
    r = legacy({"method": 5, "id": 1}, 400)
    assert_equal(r["error"]["code"], -32600)
    r = legacy({"method": "getblockcount", "params": "x", "id": 1}, 400)
    assert_equal(r["error"]["code"], -32600)
    # 2.0 errors stay in HTTP 200
    status, r = node.post_json({"jsonrpc": "2.0", "method": "getblockhash", "params": [5], "id": 1})
    assert_equal(status, 200)
    check_v2_error(r, -8, 1)


def test_params(t):
    node = t.shared_node()
    genesis = node.rpc("getblockhash", 0)
    e = assert_raises_rpc(-32602, "'height' must be an integer", node.rpc, "getblockhash", "0")
    assert_raises_rpc(-32602, "'height' must be an integer", node.rpc, "getblockhash", True)
    assert_raises_rpc(-32602, "'height' must be an integer", node.rpc, "getblockhash", Decimal("1.5"))
    assert_raises_rpc(-32602, "missing required parameter 'height'", node.rpc, "getblockhash")
    assert_raises_rpc(-32602, "at most 1 parameter, got 2", node.rpc, "getblockhash", 0, 1)
    assert_raises_rpc(-32602, "unknown named parameter 'hieght'", node.rpc, "getblockhash", hieght=0)
    assert_raises_rpc(-32602, "takes at most 0 parameters", node.rpc, "getblockcount", 1)
    assert_raises_rpc(-32602, "'verbose' must be a boolean", node.rpc, "getblockheader", genesis, 1)
    assert_raises_rpc(-32602, "'verbosity' must be an integer", node.rpc, "getblock", genesis, "1")
    assert_raises_rpc(-8, "verbosity must be 0, 1 or 2", node.rpc, "getblock", genesis, 3)
    # hashes
    assert_raises_rpc(-32602, "'blockhash' must be a 64-character hex hash", node.rpc, "getblock", "00")
    assert_raises_rpc(-8, "is not a 64-character hex hash", node.rpc, "getblock", "z" * 64)
    assert_raises_rpc(-8, "Block not found", node.rpc, "getblock", "00" * 32)
    assert_raises_rpc(-32602, "must be a 64-character hex hash", node.rpc, "getblockheader", 12)
    # heights
    assert_raises_rpc(-8, "Block height out of range", node.rpc, "getblockhash", -1)
    assert_raises_rpc(-8, "Block height out of range", node.rpc, "getblockhash", 1)
    assert_raises_rpc(-8, "Block height out of range", node.rpc, "getblockhash", 2 ** 63 - 1)
    assert_raises_rpc(-32602, "must be an integer", node.rpc, "getblockhash", 2 ** 64 - 1)
    assert_raises_rpc(-32602, "must be an integer", node.rpc, "getblockhash", 10 ** 30)
    status, r = node.post_json('{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[1e2]}')
    check_v2_error(r, -32602, 1)
    # named params, with nulls for omitted optional ones
    assert_equal(node.rpc("getblock", blockhash=genesis, verbosity=0), node.rpc("getblock", genesis, 0))
    assert_equal(node.rpc("getblockheader", genesis, None), node.rpc("getblockheader", genesis))
    assert_true(len(e.message) < 200, "messages are short and readable")


def test_help(t):
    node = t.shared_node()
    text = node.rpc("help")
    for m in ["getblockchaininfo", "getblock blockhash ( verbosity )", "stop", "validateaddress address"]:
        assert_in(m, text)
    one = node.rpc("help", "getblock")
    assert_in("Arguments:", one)
    assert_in("1. blockhash", one)
    assert_raises_rpc(-8, "unknown command", node.rpc, "help", "nosuchmethod")
    assert_true(node.rpc("uptime") >= 0)


# ---------------------------------------------------------------------------------------------
# authentication and the cookie


def test_auth(t):
    node = t.shared_node()
    body = json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": 1})
    status, headers, data = node.http("POST", "/", body, auth=False)
    assert_equal(status, 401)
    assert_in("basic", headers.get("www-authenticate", "").lower())
    t0 = time.monotonic()
    status, _, _ = node.http("POST", "/", body, auth=node.auth_header("__cookie__", "wrong"))
    elapsed = time.monotonic() - t0
    assert_equal(status, 401)
    assert_true(elapsed >= 0.2, f"a wrong password was answered after {elapsed:.3f} s, expected >= 0.2 s")
    user, password = node.read_cookie()
    assert_equal(user, "__cookie__")
    assert_true(len(password) >= 32 and all(c in "0123456789abcdef" for c in password), "cookie password")
    for bad in [node.auth_header(user, password + "0"), node.auth_header(user, password[:-1]),
                node.auth_header("other", password), "Bearer " + password, "Basic", "Basic !!!"]:
        status, _, _ = node.http("POST", "/", body, auth=bad)
        assert_equal(status, 401, f"accepted {bad!r}")
    # auth comes before routing: nothing is revealed without credentials (only the web UI's
    # static files, which hold no data, are served without them)
    assert_equal(node.http("GET", "/nosuchpath", auth=False)[0], 401)
    assert_equal(node.http("GET", "/", auth=False)[0], 200)
    mode = stat.S_IMODE(os.stat(node.cookie_path).st_mode)
    assert_equal(oct(mode), oct(0o600), "cookie file mode")


def test_cookie_lifecycle(t):
    node = t.node()
    old = node.read_cookie()
    old_header = node.auth_header(*old)
    # clean stop: the stop RPC answers, the process exits 0 in a few seconds, the cookie is gone
    t0 = time.monotonic()
    assert_equal(node.rpc("stop"), "cheesed stopping")
    rc = node.wait_exit(timeout=10)
    assert_equal(rc, 0, "exit code after stop")
    assert_true(time.monotonic() - t0 < 5, "stop took too long")
    assert_true(not os.path.exists(node.cookie_path), "cookie left behind after a clean stop")
    # restart: a new cookie, the old one is refused
    node.start()
    new = node.read_cookie()
    assert_true(new != old, "the cookie was not rotated")
    body = json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": 1})
    assert_equal(node.http("POST", "/", body, auth=old_header)[0], 401)
    assert_equal(node.http("POST", "/", body, auth=node.auth_header(*new))[0], 200)
    assert_equal(oct(stat.S_IMODE(os.stat(node.cookie_path).st_mode)), oct(0o600))
    # kill -9 leaves the cookie behind; the next start replaces it
    node.kill()
    assert_true(os.path.exists(node.cookie_path), "cookie after kill -9")
    node.start()
    assert_true(node.read_cookie() != new, "cookie not recreated after a crash")
    # SIGTERM is a clean shutdown too
    node.process.send_signal(signal.SIGTERM)
    assert_equal(node.wait_exit(timeout=10), 0, "exit code after SIGTERM")
    assert_true(not os.path.exists(node.cookie_path), "cookie left behind after SIGTERM")


def test_rpcuser(t):
    node = t.node(rpcuser="alice", rpcpassword="s3cret")
    assert_equal(node.rpc("getblockcount"), 0)
    assert_true(not os.path.exists(node.cookie_path), "a cookie was written although -rpcpassword is set")
    body = json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": 1})
    assert_equal(node.http("POST", "/", body, auth=node.auth_header("alice", "wrong"))[0], 401)
    assert_equal(node.http("POST", "/", body, auth=node.auth_header("bob", "s3cret"))[0], 401)
    assert_equal(node.http("POST", "/", body, auth=False)[0], 401)
    assert_equal(node.stop(), 0)


def test_second_instance(t):
    node = t.shared_node()
    p = subprocess.run(node.args(), capture_output=True, text=True, timeout=30)
    assert_equal(p.returncode, 1, "a second cheesed on the same data directory")
    assert_in("lock", p.stderr.lower(), "error message")
    assert_equal(node.rpc("getblockcount"), 0)  # the first one is unharmed
    assert_true(os.path.exists(node.cookie_path), "the second instance removed the first one's cookie")


# ---------------------------------------------------------------------------------------------
# HTTP limits and bad input


def test_body_too_large(t):
    node = t.shared_node()
    body = b"[" + b"1," * (5 * 1024 * 1024) + b"1]"  # 10 MB
    with socket.create_connection(("127.0.0.1", node.rpc_port), timeout=10) as s:
        s.sendall(http_request(node, "POST", "/", {"Authorization": node.auth_header(),
                                                   "Content-Length": str(len(body))}))
        try:
            s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: fine
        reply = read_all(s, 10)
    assert_equal(http_status(reply), 413, f"reply {reply[:100]!r}")
    # the announced length alone is enough: refused before any of the body is sent
    reply = node.raw(http_request(node, "POST", "/", {"Authorization": node.auth_header(), "Expect": "100-continue",
                                                      "Content-Length": str(len(body))}))
    assert_equal(http_status(reply), 413, f"reply {reply[:100]!r}")
    # chunked, no length announced: the limit holds while reading
    with socket.create_connection(("127.0.0.1", node.rpc_port), timeout=10) as s:
        s.sendall(http_request(node, "POST", "/", {"Authorization": node.auth_header(),
                                                   "Transfer-Encoding": "chunked"}))
        try:
            for _ in range(10):
                s.sendall(b"100000\r\n" + b" " * 0x100000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = read_all(s, 10)
    assert_equal(http_status(reply), 413, f"reply {reply[:100]!r}")
    assert_equal(node.rpc("getblockcount"), 0)
    # just under the limit is served (a 1 MB block is 2 MB of hex)
    junk = "00" * (1024 * 1024)
    assert_raises_rpc(-22, "Block decode failed", node.rpc, "submitblock", junk)


def test_bad_http(t):
    node = t.shared_node()
    big = "a" * (17 * 1024)
    reply = node.raw(http_request(node, "POST", "/", {"X-Big": big, "Content-Length": "0"}))
    assert_equal(http_status(reply), 431, f"reply {reply[:100]!r}")
    many = {f"X-H{i}": "b" * 100 for i in range(200)}
    reply = node.raw(http_request(node, "POST", "/", many))
    assert_equal(http_status(reply), 431, "many headers adding up to more than 16 KiB")
    for garbage in [b"HELLO WORLD\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                    b"POST / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64,
                    b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"]:
        reply = node.raw(garbage, shutdown_write=False)
        assert_equal(http_status(reply), 400, f"reply to {garbage[:30]!r}: {reply[:80]!r}")
    # routes
    assert_equal(node.http("GET", "/")[0], 200, "GET / is the web UI")
    assert_equal(node.http("GET", "/nosuchpath")[0], 404)
    assert_equal(node.http("PUT", "/", body="{}")[0], 405)
    assert_equal(node.http("DELETE", "/")[0], 405)
    assert_equal(node.http("POST", "/nosuchpath", body="{}")[0], 404)
    # the wallet path takes JSON-RPC like /
    status, _, data = node.http("POST", "/wallet/w1", json.dumps({"jsonrpc": "2.0", "method": "getblockcount",
                                                                   "id": 1}))
    assert_equal((status, json.loads(data)["result"]), (200, 0))
    assert_equal(node.rpc("getblockcount"), 0)


def test_expect_continue(t):
    node = t.shared_node()
    body = json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": 1}).encode()
    with socket.create_connection(("127.0.0.1", node.rpc_port), timeout=5) as s:
        s.sendall(http_request(node, "POST", "/", {"Authorization": node.auth_header(), "Expect": "100-continue",
                                                   "Content-Length": str(len(body))}))
        interim = s.recv(4096)
        assert_equal(http_status(interim), 100, "curl waits a second for 100 Continue before a large body")
        s.sendall(body)
        reply = read_all(s, 1)
    assert_equal(http_status(reply), 200)
    assert_in(b'"result":0', reply)


def test_slow_client(t):
    node = t.node(["-rpcservertimeout=2"])
    slow = socket.create_connection(("127.0.0.1", node.rpc_port), timeout=10)
    slow2 = socket.create_connection(("127.0.0.1", node.rpc_port), timeout=10)
    try:
        t0 = time.monotonic()
        full = rpc_bytes(node, {"jsonrpc": "2.0", "method": "getblockcount", "id": 1})
        slow.sendall(full[: len(full) // 2])  # half a request, then nothing
        # a keep-alive connection that served one request and then stalls mid-request
        slow2.sendall(full)
        first = b""
        for _ in range(100):
            first += slow2.recv(4096)
            if first.endswith(b"}\n"):
                break
        assert_equal(http_status(first), 200)
        slow2.sendall(full[:40])
        # meanwhile others are served normally
        for _ in range(5):
            assert_equal(node.rpc("getblockcount"), 0)
        assert_true(time.monotonic() - t0 < 1.8, "other clients were held up by the slow one")
        rest = read_all(slow, 8)
        closed_after = time.monotonic() - t0
        assert_equal(rest, b"", "a stalled request gets no reply")
        assert_true(1.5 <= closed_after <= 5, f"slow connection closed after {closed_after:.1f} s")
        rest2 = read_all(slow2, 8)
        closed_after = time.monotonic() - t0
        assert_equal(rest2, b"")
        assert_true(closed_after <= 5.5, f"stalled keep-alive connection closed after {closed_after:.1f} s")
    finally:
        slow.close()
        slow2.close()
    # an idle keep-alive connection is not the same as a slow request: it may wait longer
    with socket.create_connection(("127.0.0.1", node.rpc_port), timeout=10) as s:
        s.sendall(full)
        assert_equal(http_status(s.recv(4096)), 200)
        time.sleep(2.5)
        s.sendall(full)
        assert_equal(http_status(s.recv(4096)), 200, "idle keep-alive connection served after 2.5 s")
    assert_equal(node.stop(), 0)


def test_too_many_connections(t):
    node = t.shared_node()
    assert_equal(node.rpc("getblockcount"), 0)
    time.sleep(0.2)  # the server has seen the earlier connections close
    conns = []
    try:
        for _ in range(70):
            conns.append(socket.create_connection(("127.0.0.1", node.rpc_port), timeout=10))
        rejected = []

        def count_rejected():
            rejected.clear()
            for i, c in enumerate(conns):
                c.setblocking(False)
                try:
                    data = c.recv(4096, socket.MSG_PEEK)
                except BlockingIOError:
                    continue
                if http_status(data) == 503:
                    rejected.append(i)
            return len(rejected) >= 6

        wait_until(count_rejected, timeout=5, what="503 replies to the connections over the limit")
        assert_equal(len(rejected), 6, "connections refused with 503")
        assert_true(min(rejected) >= 64, f"the first 64 connections were kept: {rejected}")
        # a 71st client is refused as well while the 64 are open
        reply = node.raw(rpc_bytes(node, {"jsonrpc": "2.0", "method": "getblockcount", "id": 1}))
        assert_equal(http_status(reply), 503)
        # the kept ones are served
        for c in conns[:3]:
            c.setblocking(True)
            c.sendall(rpc_bytes(node, {"jsonrpc": "2.0", "method": "getblockcount", "id": 1}))
            assert_equal(http_status(c.recv(4096)), 200)
    finally:
        for c in conns:
            c.close()

    def served():
        try:
            return node.rpc("getblockcount") == 0
        except (OSError, HttpError, RpcError):
            return False

    wait_until(served, timeout=5, what="the server to serve again after the connections closed")


# ---------------------------------------------------------------------------------------------
# chain methods of a fresh regtest node


def test_chain_methods(t):
    node = t.shared_node()
    genesis = node.rpc("getblockhash", 0)
    info = node.rpc("getblockchaininfo")
    assert_equal(info["chain"], "regtest")
    assert_equal(info["blocks"], 0)
    assert_equal(info["headers"], 0)
    assert_equal(info["bestblockhash"], genesis)
    assert_equal(node.rpc("getbestblockhash"), genesis)
    assert_equal(len(info["chainwork"]), 64)
    int(info["chainwork"], 16)
    assert_equal(info["verificationprogress"], 1)
    assert_true(info["difficulty"] > 0)
    for k in ["time", "mediantime", "initialblockdownload", "size_on_disk", "warnings"]:
        assert_in(k, info)

    raw = node.rpc("getblock", genesis, 0)
    assert_true(all(c in "0123456789abcdef" for c in raw), "block hex")
    b1 = node.rpc("getblock", genesis)
    assert_equal(b1, node.rpc("getblock", genesis, 1))
    assert_equal(b1["hash"], genesis)
    assert_equal(b1["height"], 0)
    assert_equal(b1["confirmations"], 1)
    assert_equal(b1["size"] * 2, len(raw))
    assert_equal(b1["nTx"], 1)
    assert_true("previousblockhash" not in b1 and "nextblockhash" not in b1, "genesis has no neighbours")
    assert_equal(len(b1["tx"]), 1)
    b2 = node.rpc("getblock", genesis, 2)
    cb = b2["tx"][0]
    assert_equal(cb["txid"], b1["tx"][0])
    assert_equal(cb["kind"], "coinbase")
    assert_equal(cb["from"], None)
    assert_equal(cb["amount"], Decimal("50"))
    assert_in(cb["hex"], raw)
    _, _, data = node.http("POST", "/", json.dumps({"jsonrpc": "2.0", "method": "getblock",
                                                     "params": [genesis, 2], "id": 1}))
    assert_in(b'"amount":50.00000000', data, "amounts are printed with 8 decimals")

    header = node.rpc("getblockheader", genesis)
    assert_equal(header["hash"], genesis)
    assert_equal(header["merkleroot"], b1["merkleroot"])
    hex_header = node.rpc("getblockheader", genesis, False)
    assert_equal(len(hex_header), 160)
    assert_equal(raw[:160], hex_header)

    assert_equal(node.rpc("getchaintips"), [{"height": 0, "hash": genesis, "branchlen": 0, "status": "active"}])
    assert_equal(node.rpc("getrawmempool"), [])
    assert_equal(node.rpc("getrawmempool", True), {})
    mi = node.rpc("getmempoolinfo")
    assert_equal((mi["loaded"], mi["size"], mi["bytes"]), (True, 0, 0))
    assert_true(mi["maxmempool"] > 0)

    # the genesis coinbase as a transaction
    tx = node.rpc("getrawtransaction", cb["txid"], True)
    assert_equal((tx["blockhash"], tx["blockheight"], tx["confirmations"]), (genesis, 0, 1))
    assert_equal(node.rpc("getrawtransaction", cb["txid"]), cb["hex"])
    assert_equal(node.rpc("gettransaction", cb["txid"])["txid"], cb["txid"])
    assert_raises_rpc(-5, "No such transaction", node.rpc, "getrawtransaction", "11" * 32)

    # addresses
    address = cb["to"]
    assert_true(address.startswith("rchz1"), address)
    v = node.rpc("validateaddress", address)
    assert_equal((v["isvalid"], v["address"]), (True, address))
    assert_equal(len(v["publickey"]), 64)
    assert_equal(bech32m_encode("rchz", bytes.fromhex(v["publickey"])), address, "reference bech32m")
    typo = address[:-1] + ("q" if address[-1] != "q" else "p")
    v = node.rpc("validateaddress", typo)
    assert_equal(v["isvalid"], False)
    assert_in("checksum", v["error"])
    main_address = bech32m_encode("chz", bytes.fromhex(node.rpc("validateaddress", address)["publickey"]))
    v = node.rpc("validateaddress", main_address)
    assert_equal(v["isvalid"], False)
    assert_in("not an address of the regtest network", v["error"])
    assert_equal(node.rpc("validateaddress", "")["isvalid"], False)

    acct = node.rpc("getaccount", address)
    assert_equal(acct["address"], address)
    for k in ["balance", "nonce", "immature", "pending_spend", "next_nonce"]:
        assert_in(k, acct)
    assert_raises_rpc(-5, "not an address of the regtest network", node.rpc, "getaccount", main_address)
    assert_raises_rpc(-5, "Invalid address", node.rpc, "getaccount", typo)

    # submitting garbage and duplicates
    assert_raises_rpc(-22, "TX decode failed", node.rpc, "sendrawtransaction", "zz")
    assert_raises_rpc(-22, "TX decode failed", node.rpc, "sendrawtransaction", "deadbeef")
    assert_raises_rpc(-22, "Block decode failed", node.rpc, "submitblock", "not hex")
    assert_equal(node.rpc("submitblock", raw), "duplicate")
    assert_raises_rpc(-27, "already in block chain", node.rpc, "sendrawtransaction", cb["hex"])
    assert_equal(node.rpc("getblockcount"), 0)


def test_submitblock(t):
    node = t.node()
    genesis = node.rpc("getblockheader", node.rpc("getblockhash", 0))
    bits = int(genesis["bits"], 16)
    when = max(genesis["time"] + 1, int(time.time()))
    alice, bob = hashlib.sha256(b"alice").digest(), hashlib.sha256(b"bob").digest()
    block_a, hash_a = make_block(genesis["hash"], 1, when, bits, alice, 50 * 10 ** 8)
    block_b, hash_b = make_block(genesis["hash"], 1, when, bits, bob, 50 * 10 ** 8)
    bad, hash_bad = make_block(hash_a, 2, when + 1, bits, bob, 51 * 10 ** 8)  # reward too high
    assert_equal(node.rpc("submitblock", block_a), None, "a valid block is accepted")
    assert_equal(node.rpc("getbestblockhash"), hash_a)
    assert_equal(node.rpc("submitblock", block_a), "duplicate")
    assert_equal(node.rpc("submitblock", block_b), "inconclusive", "equal work: the first seen stays the tip")
    assert_equal(node.rpc("getbestblockhash"), hash_a)
    reason = node.rpc("submitblock", bad)
    assert_true(isinstance(reason, str) and "amount" in reason, f"rejection reason {reason!r}")
    assert_equal(node.rpc("submitblock", bad), "duplicate-invalid")
    tips = {tip["hash"]: tip for tip in node.rpc("getchaintips")}
    assert_equal(tips[hash_a]["status"], "active")
    assert_equal(tips[hash_b]["status"], "valid-fork")
    assert_equal(tips[hash_b]["branchlen"], 1)
    assert_equal(tips[hash_bad]["status"], "invalid")
    assert_equal(node.rpc("getblockheader", hash_b)["confirmations"], -1)
    assert_equal(node.rpc("getblockheader", genesis["hash"])["nextblockhash"], hash_a)
    account = node.rpc("getaccount", bech32m_encode("rchz", alice))
    assert_equal((account["balance"], account["immature"]), (Decimal(0), Decimal(50)))
    assert_equal(node.rpc("getblockchaininfo")["blocks"], 1)
    assert_equal(node.stop(), 0)


def test_cli(t):
    node = t.shared_node()
    assert_equal(node.cli("getblockcount"), (0, "0\n", ""))
    genesis = node.rpc("getblockhash", 0)
    rc, out, err = node.cli("-named", "getblockheader", f"blockhash={genesis}", "verbose=false")
    assert_equal((rc, out.strip()), (0, node.rpc("getblockheader", genesis, False)))
    rc, out, err = node.cli("getblockhash", "5")
    assert_equal(rc, 8, "exit code is the error code's absolute value")
    assert_in("Block height out of range", err)


def test_stop_rpc(t):
    # last: stops the shared node with the stop RPC
    node = t.shared_node()
    assert_equal(node.rpc("stop"), "cheesed stopping")
    t0 = time.monotonic()
    assert_equal(node.wait_exit(timeout=10), 0)
    assert_true(time.monotonic() - t0 < 5, "stop took too long")
    assert_true(not os.path.exists(node.cookie_path), "cookie left behind")
    log = open(node.debug_log, encoding="utf-8").read()
    assert_in("Shutdown complete", log)


if __name__ == "__main__":
    framework.main([
        test_spec_examples,
        test_jsonrpc_details,
        test_legacy,
        test_params,
        test_help,
        test_auth,
        test_cookie_lifecycle,
        test_rpcuser,
        test_second_instance,
        test_body_too_large,
        test_bad_http,
        test_expect_continue,
        test_slow_client,
        test_too_many_connections,
        test_chain_methods,
        test_submitblock,
        test_cli,
        test_stop_rpc,
    ])
