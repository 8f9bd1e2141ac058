"""The simulated network: a tracker and N `cheesed -regtest` nodes, each in its own namespace.

Every node listens on 28433 and serves JSON-RPC on 127.0.0.1:28432 of its own namespace (the
ports can be the same everywhere: each namespace has its own). The simulator reaches that RPC
with a socket made inside the namespace (netns.Namespaces.inside) and the node's cookie from
its data directory. Nodes know only the tracker (-tracker=10.77.0.2:9999); they find each other
through it and then talk directly.
"""

import base64
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import netns

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))

import framework  # noqa: E402  (the functional tests' RPC error type and JSON parser)

P2P_PORT = 28433
RPC_PORT = 28432
TRACKER_PORT = 9999
RPC_TIMEOUT = 60.0  # seconds; 200 nodes on 2 shared cores answer slowly at times
START_TIMEOUT_BASE = 60.0  # seconds for the first node to answer, plus START_TIMEOUT_PER_NODE each
START_TIMEOUT_PER_NODE = 0.5
STOP_TIMEOUT = 20.0
POLL_INTERVAL = 0.05  # seconds between two sweeps over the nodes that are still pending
LINK_PROBES = 20  # TCP connects timed between nodes to check the links' round trip
LINK_PROBE_TIMEOUT = 5.0


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class NsHttp(http.client.HTTPConnection):
    """HTTP on a socket created inside a network namespace (kept alive between requests)."""

    def __init__(self, spaces, ns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self._spaces = spaces
        self._ns = ns

    def connect(self):
        with self._spaces.inside(self._ns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class SimNode:
    def __init__(self, sim, index):
        self.sim = sim
        self.index = index
        self.ns = sim.topo.node_ns(index)
        self.ip = netns.host_ip(index)
        self.side = sim.topo.side(index)
        self.base_dir = os.path.join(sim.workdir, f"node{index}")
        self.datadir = os.path.join(self.base_dir, "regtest")
        self.process = None
        self.extra = []  # options of this node only (a newcomer's -seednode)
        self.auth = None
        self._conn = None
        self._id = 0
        self.last_error = None  # the last RPC error seen while waiting (for diagnosis)

    def __repr__(self):
        return f"node{self.index}({self.side} {self.ip})"

    def args(self):
        return [self.sim.cheesed, "-regtest", f"-datadir={self.base_dir}", "-listen=1", f"-port={P2P_PORT}",
                f"-rpcport={RPC_PORT}", f"-tracker={netns.TRACKER_IP}:{TRACKER_PORT}", "-genthreads=1",
                "-maxmempool=8"] + [f"-debug={c}" for c in self.sim.debug] + self.sim.extra_args + self.extra

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """kill -9 (no shutdown: no peers.json or anchors written, the datadir lock dropped by
        the kernel); waits until the process is gone."""
        self.close_rpc()
        if self.alive():
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=STOP_TIMEOUT)

    def restart(self):
        """Starts the process again on the same data directory (after kill()); the caller waits
        with try_ready(). The stale cookie of the killed process is removed first, so that
        try_ready() reads only the new one."""
        framework.assert_true(not self.alive(), f"{self} restarted while running")
        self.auth = None
        try:
            os.remove(os.path.join(self.datadir, ".cookie"))
        except FileNotFoundError:
            pass
        self.start()

    def start(self):
        os.makedirs(self.base_dir, exist_ok=True)
        out = open(os.path.join(self.base_dir, "stdout"), "ab")
        err = open(os.path.join(self.base_dir, "stderr"), "ab")
        try:
            with self.sim.topo.ns.inside(self.ns):
                self.process = subprocess.Popen(self.args(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                                start_new_session=True)
        finally:
            out.close()
            err.close()

    def try_ready(self):
        """True once the cookie is there and getblockcount answers."""
        if self.process.poll() is not None:
            raise framework.TestFailure(f"{self} exited with {self.process.returncode}: {self.stderr_tail()}")
        cookie = os.path.join(self.datadir, ".cookie")
        if self.auth is None:
            if not os.path.exists(cookie):
                return False
            with open(cookie, encoding="ascii") as f:
                user, _, password = f.read().strip().partition(":")
            if not password:
                return False
            self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        try:
            self.rpc("getblockcount")
        except (OSError, http.client.HTTPException, framework.RpcError, ValueError):
            self.auth = None
            return False
        return True

    def rpc(self, method, *params):
        for attempt in range(2):
            if self._conn is None:
                self._conn = NsHttp(self.sim.topo.ns, self.ns, "127.0.0.1", RPC_PORT, RPC_TIMEOUT)
            self._id += 1
            body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
            try:
                self._conn.request("POST", "/", body=body, headers={"Authorization": self.auth,
                                                                     "Content-Type": "application/json"})
                res = self._conn.getresponse()
                data = res.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close_rpc()
                if attempt == 1:
                    raise
                continue  # the server closed a kept-alive connection: once more on a new one
            if res.will_close:
                self.close_rpc()
            reply = framework.parse_json(data) if data else None
            if not isinstance(reply, dict):
                raise framework.HttpError(res.status, data)
            if reply.get("error") is not None:
                raise framework.RpcError(reply["error"].get("code"), reply["error"].get("message"))
            return reply["result"]
        raise AssertionError("unreachable")

    def close_rpc(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def rss_mb(self):
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stderr_tail(self):
        try:
            with open(os.path.join(self.base_dir, "stderr"), encoding="utf-8", errors="replace") as f:
                return f.read()[-1000:]
        except OSError:
            return ""

    def log_lines_since(self, since_unix, needle=""):
        """debug.log lines at or after a unix time (the log has whole seconds, UTC)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(since_unix)))
        try:
            with open(os.path.join(self.datadir, "debug.log"), encoding="utf-8", errors="replace") as f:
                return [ln.rstrip("\n") for ln in f if ln[:20] >= stamp and needle in ln]
        except OSError:
            return []


class Simulator:
    """Builds the topology, runs the tracker and the nodes; `close()` removes everything."""

    def __init__(self, build_dir, n_nodes, prefix, side_a=None, debug=("net",), extra_args=(), keep=False, spare=0,
                 links=None, start_interval=0.0):
        self.build_dir = os.path.abspath(build_dir)
        self.cheesed = os.path.join(self.build_dir, "daemon", "cheesed")
        self.tracker_bin = os.path.join(self.build_dir, "tracker", "cheese-tracker")
        for path in (self.cheesed, self.tracker_bin):
            if not os.access(path, os.X_OK):
                raise framework.TestFailure(f"{path} is not built "
                                            "(cmake --build build --target cheesed cheese-tracker)")
        self.prefix = prefix
        # `spare` hosts more than the nodes started at once (indexes n_nodes.., on side B): their
        # namespaces exist from the start, add_node() starts them later (newcomers).
        self.n_start = n_nodes
        self.topo = netns.Topology(prefix, n_nodes + spare, side_a if side_a is not None else (n_nodes + 1) // 2,
                                   links=links)
        self.links = links or netns.LinkParams()
        self.start_interval = start_interval  # seconds between two nodes' starts
        self.debug = list(debug)
        self.extra_args = list(extra_args)
        self.keep = keep
        self.workdir = None
        self.nodes = []
        self.tracker = None
        self.attacker = None  # scenario `attack`: the attacker host's process
        self.failed = False

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self):
        netns.cleanup(self.prefix, log=log)  # leftovers of a crashed run with this prefix
        self.workdir = os.path.realpath(tempfile.mkdtemp(prefix=f"netsim-{self.prefix}-"))
        t0 = time.monotonic()
        self.topo.build()
        log(f"topology: {self.topo.n} nodes ({self.topo.side_a} on side A) + tracker, "
            f"{self.links.describe()}, {time.monotonic() - t0:.1f} s")
        self._start_tracker()
        self.nodes = [SimNode(self, i) for i in range(self.n_start)]
        t0 = time.monotonic()
        for k, node in enumerate(self.nodes):
            if k and self.start_interval:  # a network that grows, not one that starts at once
                time.sleep(self.start_interval)
            node.start()
        self.wait_each(self.nodes, SimNode.try_ready,
                       START_TIMEOUT_BASE + START_TIMEOUT_PER_NODE * len(self.nodes), "RPC ready", interval=0.2)
        log(f"{len(self.nodes)} nodes answer RPC, {time.monotonic() - t0:.1f} s")

    def _start_tracker(self):
        path = os.path.join(self.workdir, "tracker.log")
        with open(path, "ab") as out:
            with self.topo.ns.inside(self.topo.tracker_ns):
                self.tracker = subprocess.Popen(
                    # Every host is in 10.77.0.0/16, one network group: allow whole answers from it.
                    [self.tracker_bin, f"-port={TRACKER_PORT}", "-bind=0.0.0.0", "-printtoconsole",
                     "-maxpergroup=10"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        for _ in range(200):
            if self.tracker.poll() is not None:
                raise framework.TestFailure(f"the tracker exited with {self.tracker.returncode}; see {path}")
            with self.topo.ns.inside(self.topo.tracker_ns):
                probe = socket.socket()
            try:
                probe.settimeout(1)
                probe.connect((netns.TRACKER_IP, TRACKER_PORT))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise framework.TestFailure("the tracker does not accept connections")
                time.sleep(0.05)
            finally:
                probe.close()

    def add_node(self, extra):
        """Starts the next spare host's node with its own extra options (not waited for: call
        wait_each(..., SimNode.try_ready, ...)); it joins `nodes`."""
        index = len(self.nodes)
        if index >= self.topo.n:
            raise framework.TestFailure(f"no spare host left for a new node ({self.topo.n} hosts)")
        node = SimNode(self, index)
        node.extra = list(extra)
        self.nodes.append(node)
        node.start()
        return node

    def start_attacker(self, host, argv):
        """Runs `python3 argv...` (not cheesed) in spare host `host`'s namespace, stdout piped
        (scenario `attack`); close() kills it if it still runs."""
        if host < len(self.nodes) or host >= self.topo.n:
            raise framework.TestFailure(f"host {host} is not a spare host ({self.topo.n} hosts)")
        err = open(os.path.join(self.workdir, "attacker.stderr"), "ab")
        try:
            with self.topo.ns.inside(self.topo.node_ns(host)):
                self.attacker = subprocess.Popen([sys.executable] + list(argv), stdout=subprocess.PIPE,
                                                 stderr=err, stdin=subprocess.DEVNULL, text=True,
                                                 start_new_session=True)
        finally:
            err.close()
        return self.attacker

    def kill_tracker(self):
        """kill -9 of the tracker (its namespace and address stay: dials to it are refused)."""
        if self.tracker is not None and self.tracker.poll() is None:
            self.tracker.kill()
            self.tracker.wait(timeout=STOP_TIMEOUT)

    def close(self):
        """Stops every process (SIGTERM, then SIGKILL), removes every namespace; keeps the data
        directories only with --keep or after a failure."""
        procs = [n.process for n in self.nodes if n.process] + ([self.tracker] if self.tracker else []) \
            + ([self.attacker] if self.attacker else [])
        for node in self.nodes:
            node.close_rpc()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=STOP_TIMEOUT)
        self.topo.close()
        netns.cleanup(self.prefix, log=None)
        if self.workdir:
            if self.keep or self.failed:
                log(f"data directories and logs kept in {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # --- waiting -----------------------------------------------------------------------------
    def wait_each(self, nodes, predicate, timeout, what, interval=POLL_INTERVAL, t0=None, raise_on_timeout=True):
        """Polls predicate(node) on every node until each is true once; returns {index: seconds
        from t0 (default: now) at which it was first seen true}; nodes never true are missing.
        Bounded in time and in sweeps. An RPC error counts as "not yet"."""
        t0 = time.monotonic() if t0 is None else t0
        pending = list(nodes)
        reached = {}
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / interval) + 2):
            still = []
            for node in pending:
                try:
                    ok = predicate(node)
                except (OSError, http.client.HTTPException, framework.RpcError, framework.HttpError) as e:
                    ok = False
                    node.last_error = e
                if ok:
                    reached[node.index] = time.monotonic() - t0
                else:
                    still.append(node)
            pending = still
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(interval)
        if pending and raise_on_timeout:
            names = ", ".join(repr(n) for n in pending[:10])
            raise framework.TestFailure(f"{len(pending)} node(s) not {what} within {timeout:.0f} s: {names}")
        return reached

    # --- facts -------------------------------------------------------------------------------
    def connect_times_ms(self, samples=LINK_PROBES):
        """Milliseconds a TCP connect() takes from random nodes to others' P2P ports (one round
        trip over the links: about 2 x the one-way latency, the emulation's own check)."""
        out = []
        live = [n for n in self.nodes if n.alive()]
        if len(live) < 2:
            return out
        for k in range(samples):
            a, b = live[k % len(live)], live[(k * 7 + 1) % len(live)]
            if a is b:
                b = live[(live.index(a) + 1) % len(live)]
            with self.topo.ns.inside(a.ns):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.settimeout(LINK_PROBE_TIMEOUT)
                t0 = time.monotonic()
                sock.connect((b.ip, P2P_PORT))
                out.append(round(1000 * (time.monotonic() - t0), 2))
            except OSError:
                pass  # a lost SYN is retried after 1 s; a refused or timed-out probe is left out
            finally:
                sock.close()
        return out

    def link_report(self):
        """How the links were emulated and what they did (the summary's `links`)."""
        rep = {"mode": self.links.describe(), "latency_ms": self.links.latency_ms,
               "jitter_ms": self.links.jitter_ms, "loss": self.links.loss}
        times = self.connect_times_ms()
        if times:
            rep["tcp_connect_ms"] = {"median": round(statistics.median(times), 2), "min": min(times), "max": max(times),
                                     "samples": len(times)}
        if self.topo.links:
            rep["switch"] = self.topo.link_stats()
        return rep

    def side_nodes(self, side):
        return [n for n in self.nodes if n.side == side]

    def memory(self):
        rss = [m for m in (n.rss_mb() for n in self.nodes) if m is not None]
        return {"rss_mb_median": round(statistics.median(rss), 1), "rss_mb_max": round(max(rss), 1)} if rss else {}

    def connections(self):
        ins, outs, book, no_out, by_node = [], [], [], [], []
        for node in self.nodes:
            if not node.alive():
                continue
            info = node.rpc("getnetworkinfo")
            ins.append(info["connections_in"])
            by_node.append((info["connections_in"], node.index))
            outs.append(info["connections_out"])
            if not info["connections_out"]:
                no_out.append(node.index)
            book.append(info.get("addressbook", 0))
        ins_sorted = sorted(ins)
        return {"in_median": statistics.median(ins), "in_p90": ins_sorted[min(len(ins) - 1, int(0.9 * len(ins)))],
                "in_max": max(ins), "in_top": [f"node{i}:{c}" for c, i in sorted(by_node, reverse=True)[:5]],
                "out_median": statistics.median(outs),
                "out_min": min(outs), "addressbook_median": statistics.median(book),
                "nodes_without_outbound": no_out[:10]}


def stats(times, total):
    """median, p90 and max of the reached times; `missing`: how many of `total` never reached."""
    vals = sorted(times.values()) if isinstance(times, dict) else sorted(times)
    if not vals:
        return {"median": None, "p90": None, "max": None, "missing": total}
    p90 = vals[min(len(vals) - 1, int(0.9 * len(vals)))]
    return {"median": round(statistics.median(vals), 2), "p90": round(p90, 2), "max": round(vals[-1], 2),
            "missing": total - len(vals)}
