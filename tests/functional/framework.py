"""Harness for functional tests: real `cheesed -regtest` processes on loopback.

Python standard library only. A test file looks like

    import framework
    from framework import assert_equal

    def test_something(t):          # t: framework.TestRun
        node = t.node()             # started, RPC answering
        assert_equal(node.rpc("getblockcount"), 0)

    if __name__ == "__main__":
        framework.main([test_something])

and is run as `python3 <file> --build-dir <cmake build dir>` (that is how ctest runs it).
Every wait below is bounded both in time and in the number of attempts.
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from decimal import Decimal

CHEESED_REL = os.path.join("daemon", "cheesed")
CLI_REL = os.path.join("cli", "cheese-cli")
NETWORK_SUBDIR = "regtest"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
RPC_TIMEOUT = 30.0


class RpcError(Exception):
    """A JSON-RPC error object returned by the node."""

    def __init__(self, code, message):
        super().__init__(f"RPC error {code}: {message}")
        self.code = code
        self.message = message


class HttpError(Exception):
    """An HTTP reply that carries no JSON-RPC body (401, 413, ...)."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body


class TestFailure(AssertionError):
    pass


# ---------------------------------------------------------------------------------------------
# assertions


def assert_equal(a, b, what=""):
    if a != b:
        raise TestFailure(f"{what + ': ' if what else ''}{a!r} != {b!r}")


def assert_true(cond, what="condition is false"):
    if not cond:
        raise TestFailure(what)


def assert_in(item, container, what=""):
    if item not in container:
        raise TestFailure(f"{what + ': ' if what else ''}{item!r} not in {container!r}")


def assert_raises_rpc(code, message_part, fn, *args, **kwargs):
    """Calls fn and expects an RpcError with `code` whose message contains `message_part`."""
    try:
        fn(*args, **kwargs)
    except RpcError as e:
        if e.code != code:
            raise TestFailure(f"expected RPC error {code}, got {e.code}: {e.message}") from e
        if message_part and message_part not in e.message:
            raise TestFailure(f"RPC error message {e.message!r} does not contain {message_part!r}") from e
        return e
    raise TestFailure(f"expected RPC error {code}, but the call succeeded")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate() until true; bounded by time and by count."""
    deadline = time.monotonic() + timeout
    attempts = int(timeout / interval) + 1
    for _ in range(attempts):
        if predicate():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    if predicate():
        return
    raise TestFailure(f"timed out after {timeout} s waiting for {what}")


def free_port():
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_json(text):
    """JSON with decimals kept exact (amounts such as 12.50000000)."""
    return json.loads(text, parse_float=Decimal)


# ---------------------------------------------------------------------------------------------
# a node


class Node:
    """One cheesed process with its own data directory."""

    def __init__(self, test_run, index, extra_args=(), rpcuser=None, rpcpassword=None, listen=False):
        self.t = test_run
        self.index = index
        self.base_dir = tempfile.mkdtemp(prefix=f"cheese_func_{index}_")
        self.datadir = os.path.join(self.base_dir, NETWORK_SUBDIR)
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.extra_args = list(extra_args)
        self.rpcuser = rpcuser
        self.rpcpassword = rpcpassword
        self.listen = listen  # accept P2P connections on p2p_port
        self.process = None
        self.auth = None  # (user, password)
        self.stdout_path = os.path.join(self.base_dir, f"stdout.{index}")
        self.stderr_path = os.path.join(self.base_dir, f"stderr.{index}")
        self._stdout = None
        self._stderr = None
        self._id = 0

    # --- paths -------------------------------------------------------------------------------
    @property
    def cookie_path(self):
        return os.path.join(self.datadir, ".cookie")

    @property
    def debug_log(self):
        return os.path.join(self.datadir, "debug.log")

    def read_cookie(self):
        with open(self.cookie_path, encoding="ascii") as f:
            user, _, password = f.read().strip().partition(":")
        return user, password

    def args(self, extra_args=None):
        args = [self.t.cheesed, "-regtest", f"-datadir={self.base_dir}", f"-rpcport={self.rpc_port}",
                f"-port={self.p2p_port}", f"-listen={1 if self.listen else 0}",
                # No default tracker (127.0.0.1:9999 on regtest): a test names its own with -tracker=.
                "-notracker"]
        if self.rpcuser is not None:
            args += [f"-rpcuser={self.rpcuser}", f"-rpcpassword={self.rpcpassword}"]
        return args + self.extra_args + list(extra_args or [])

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, extra_args=None, wait=True, preexec=None):
        """`preexec`: run in the child before cheesed starts (e.g. to set a resource limit)."""
        assert self.process is None or self.process.poll() is not None, "node already running"
        self._stdout = open(self.stdout_path, "ab")
        self._stderr = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(self.args(extra_args), stdout=self._stdout, stderr=self._stderr,
                                        preexec_fn=preexec)
        self.auth = None
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits until the cookie (or -rpcpassword) works and getblockcount answers."""
        deadline = time.monotonic() + timeout
        last = None
        for _ in range(int(timeout / 0.05) + 1):
            if self.process.poll() is not None:
                raise TestFailure(f"cheesed exited with {self.process.returncode} during startup: "
                                  f"{self.stderr_text()[-2000:]}")
            try:
                if self.rpcuser is not None:
                    self.auth = (self.rpcuser, self.rpcpassword)
                elif os.path.exists(self.cookie_path):
                    self.auth = self.read_cookie()
                if self.auth is not None:
                    self.rpc("getblockcount")
                    return
            except (OSError, RpcError, HttpError, ValueError) as e:
                last = e
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        raise TestFailure(f"cheesed did not answer getblockcount within {timeout} s (last error: {last})")

    def stop(self, timeout=STOP_TIMEOUT):
        """The `stop` RPC, then a bounded wait for the exit; kill -9 if it hangs. Returns the exit code."""
        if not self.running():
            return self.process.returncode if self.process else None
        try:
            assert_equal(self.rpc("stop"), "cheesed stopping")
        except (OSError, RpcError, HttpError) as e:
            print(f"node{self.index}: stop RPC failed ({e}); sending SIGTERM", file=sys.stderr)
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            rc = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"cheesed did not exit within {timeout} s; killed")
        self._close_files()
        return rc

    def kill(self):
        """kill -9: no clean shutdown (the cookie stays behind)."""
        if self.running():
            self.process.kill()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._close_files()

    def restart(self, extra_args=None):
        self.stop()
        return self.start(extra_args)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def _close_files(self):
        for f in (self._stdout, self._stderr):
            if f:
                f.close()
        self._stdout = self._stderr = None

    def stderr_text(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=40):
        try:
            with open(self.debug_log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no debug.log)"

    # --- JSON-RPC ----------------------------------------------------------------------------
    def auth_header(self, user=None, password=None):
        if user is None:
            user, password = self.auth
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def http(self, method="POST", path="/", body=None, headers=None, auth=True, timeout=RPC_TIMEOUT):
        """One HTTP request on a new connection; returns (status, headers dict lowercased, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.rpc_port, timeout=timeout)
        try:
            h = {}
            if body is not None:
                h["Content-Type"] = "application/json"
            if auth is True:
                h["Authorization"] = self.auth_header()
            elif auth:
                h["Authorization"] = auth
            h.update(headers or {})
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=h)
            res = conn.getresponse()
            data = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, data
        finally:
            conn.close()

    def post_json(self, payload, path="/", auth=True):
        """POSTs a JSON value (or raw text); returns (status, parsed body or None when empty)."""
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        status, _, data = self.http("POST", path, body, auth=auth)
        return status, (parse_json(data) if data else None)

    def rpc(self, method, *params, **named):
        """Calls a method with positional or named params; raises RpcError on an error reply."""
        return self.rpc_at("/", method, *params, **named)

    def wallet(self, name):
        """An object whose methods are RPCs to /wallet/<name>: node.wallet("alice").getbalance()."""
        node = self

        class _WalletRpc:
            def __getattr__(self, method):
                return lambda *params, **named: node.rpc_at(f"/wallet/{name}", method, *params, **named)

        return _WalletRpc()

    def rpc_at(self, path, method, *params, **named):
        """rpc() on another endpoint (for example /wallet/<name>)."""
        if params and named:
            raise ValueError("use positional or named params, not both")
        self._id += 1
        request = {"jsonrpc": "2.0", "id": self._id, "method": method,
                   "params": named if named else list(params)}
        status, _, data = self.http("POST", path, json.dumps(request, default=str))
        try:
            reply = parse_json(data)
        except ValueError:
            raise HttpError(status, data)
        if not isinstance(reply, dict):
            raise HttpError(status, data)
        if reply.get("error") is not None:
            raise RpcError(reply["error"].get("code"), reply["error"].get("message"))
        assert_equal(reply.get("id"), self._id, "reply id")
        return reply["result"]

    def raw(self, data, read_timeout=5.0, shutdown_write=False):
        """Sends raw bytes on a new connection and returns everything read until close/timeout."""
        with socket.create_connection(("127.0.0.1", self.rpc_port), timeout=read_timeout) as s:
            s.sendall(data)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
            return read_all(s, read_timeout)

    # --- cheese-cli --------------------------------------------------------------------------
    def cli(self, *args, stdin=None, timeout=30):
        """Runs cheese-cli against this node; returns (exit code, stdout, stderr)."""
        if not os.path.exists(self.t.cli_path):
            raise TestFailure(f"{self.t.cli_path} is not built")
        cmd = [self.t.cli_path, "-regtest", f"-datadir={self.base_dir}", f"-rpcport={self.rpc_port}"]
        if self.rpcuser is not None:
            cmd += [f"-rpcuser={self.rpcuser}", f"-rpcpassword={self.rpcpassword}"]
        p = subprocess.run(cmd + [str(a) for a in args], input=stdin, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr


def read_all(sock, timeout):
    """Reads until the peer closes, an error, or `timeout` seconds in total."""
    chunks = []
    deadline = time.monotonic() + timeout
    for _ in range(100000):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def http_status(raw_reply):
    """The status code of a raw HTTP reply, or None when there is none."""
    first = raw_reply.split(b"\r\n", 1)[0].split()
    if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
        return int(first[1])
    return None


# ---------------------------------------------------------------------------------------------
# a run of a test file


class TestRun:
    """What every test function gets: the build, and nodes that are cleaned up at the end."""

    def __init__(self, build_dir):
        self.build_dir = os.path.abspath(build_dir)
        self.cheesed = os.path.join(self.build_dir, CHEESED_REL)
        self.cli_path = os.path.join(self.build_dir, CLI_REL)
        self.nodes = []
        self.failed = False
        self._shared = None

    def node(self, extra_args=(), start=True, rpcuser=None, rpcpassword=None, listen=False):
        """A new node with its own temporary data directory (and, with listen, a P2P listener)."""
        n = Node(self, len(self.nodes), extra_args, rpcuser, rpcpassword, listen)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def shared_node(self):
        """One node reused by the tests that do not change it (saves start-up time)."""
        if self._shared is None or not self._shared.running():
            self._shared = self.node()
        return self._shared

    def cleanup(self):
        for n in self.nodes:
            if n.running():
                try:
                    n.stop()
                except Exception as e:  # noqa: BLE001 - cleanup must go on
                    print(f"node{n.index}: {e}", file=sys.stderr)
                    n.kill()
            n._close_files()
        for n in self.nodes:
            if self.failed:
                print(f"node{n.index}: data directory kept at {n.base_dir}")
                print(f"--- node{n.index} debug.log (tail) ---\n{n.log_tail()}--- end ---")
                err = n.stderr_text().strip()
                if err:
                    print(f"--- node{n.index} stderr ---\n{err[-2000:]}\n--- end ---")
            else:
                shutil.rmtree(n.base_dir, ignore_errors=True)


def main(tests):
    """Runs each test function, prints `N passed, M failed` last, exits non-zero on a failure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("-k", dest="only", default=None, help="run only tests whose name contains this")
    opts = parser.parse_args()
    run = TestRun(opts.build_dir)
    if not os.path.exists(run.cheesed):
        print(f"{run.cheesed} not found: build cheesed first")
        print("0 passed, 1 failed")
        sys.exit(1)
    passed = failed = 0
    started = time.monotonic()
    try:
        for test in tests:
            if opts.only and opts.only not in test.__name__:
                continue
            t0 = time.monotonic()
            try:
                test(run)
            except Exception:  # noqa: BLE001 - every failure is reported the same way
                failed += 1
                run.failed = True
                print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f} s)")
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print(f"ok   {test.__name__} ({time.monotonic() - t0:.1f} s)")
            sys.stdout.flush()
    finally:
        run.cleanup()
    print(f"total {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
