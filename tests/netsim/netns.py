"""Network namespaces, veth links and bridges for the simulator (Linux, root, Python stdlib only).

Topology (every name starts with the run's prefix P; nothing is created in the root namespace):

    P-n0 ... P-n{k-1}  (side A)            P-n{k} ... P-n{N-1}  (side B)
    P-tr (tracker, side A)
        | eth0                                  | eth0
    [ P-sw: bridge brA ]--trA====trB--[ bridge brB ]      (P-sw: the "switch" namespace)

Every host is a namespace with one interface `eth0` on 10.77.0.0/16 (a range that exists only
inside these namespaces: no route leaves them, the root namespace has no address in it). Both
bridges live in the switch namespace; the veth pair trA/trB joins them. A partition sets trA
down (no frame can cross, in either direction); a heal sets it up.

The kernel's neighbour (ARP) tables overflow beyond about 64 hosts on one segment (issue 17:
`neighbor table overflow`, then connect timeouts that look like node bugs), so every host gets a
fixed MAC address and a permanent neighbour entry for every other host: no ARP at all.

With link emulation (`LinkParams` with a latency, jitter or loss: the kernel here has no
`netem`), there are no bridges: the switch namespace runs tests/netsim/links.py, a user-space
switch that makes one TAP device per host (moved into the host as `eth0`) and carries every
frame after the delay, or drops it. A partition is then its `cut` command, and the trunk's
counters are its frames delivered between the sides.

RPC and processes reach a namespace with setns(2) on the calling thread (`inside(ns)`): a socket
or a child process created there belongs to that namespace for its whole life.
"""

import contextlib
import ctypes
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
SUBNET = "10.77.0.0/16"
TRACKER_IP = "10.77.0.2"
# Prefixes are short: interface and namespace names stay far below the kernel's limits.
PREFIX_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_PREFIX_LEN = 8
IP_TIMEOUT = 120.0  # seconds for one `ip` invocation (a batch of a few hundred lines)
LINKS_READY_TIMEOUT = 30.0  # seconds for links.py to create its TAPs
LINKS_REPLY_TIMEOUT = 30.0  # seconds for links.py to answer a command
# A host's TAP queues this many frames while links.py is busy (the default 1,000 drops bursts:
# loss the user did not ask for).
TAP_TXQUEUELEN = 10000
HERE = os.path.dirname(os.path.abspath(__file__))

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(Exception):
    pass


def check_prefix(prefix):
    if not prefix or len(prefix) > MAX_PREFIX_LEN or any(c not in PREFIX_CHARS for c in prefix):
        raise NetnsError(f"prefix {prefix!r}: use 1..{MAX_PREFIX_LEN} characters among a-z and 0-9")


def host_ip(index):
    """Address of node `index` (0-based): 10.77.1.1 onwards, 250 hosts per /24."""
    return f"10.77.{1 + index // 250}.{1 + index % 250}"


def host_mac(index):
    """Fixed MAC of node `index`; the tracker is host -1 (locally administered, unicast)."""
    n = index + 2
    return f"02:77:00:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"


def ip(*args, ns=None, batch=None, check=True):
    """Runs `ip [-n ns] args` (or `ip -batch -` with the given lines); returns stdout."""
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    if batch is not None:
        cmd += ["-batch", "-"]
    p = subprocess.run(cmd, input="\n".join(batch) + "\n" if batch is not None else None,
                       capture_output=True, text=True, timeout=IP_TIMEOUT)
    if check and p.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return p.stdout


def available():
    """None when namespaces can be made here, else why not (used to skip the ctest)."""
    if os.geteuid() != 0:
        return "not root"
    try:
        subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        return f"`ip netns` unavailable: {e}"
    probe = f"nsprobe{os.getpid() % 100000}"
    try:
        ip("netns", "add", probe)
    except (NetnsError, OSError) as e:
        return f"cannot create a network namespace: {e}"
    finally:
        ip("netns", "del", probe, check=False)
    return None


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns failed: {os.strerror(err)}")


class Namespaces:
    """Opens namespace files once and enters them with setns on the calling thread."""

    def __init__(self):
        self._root = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._fds = {}

    def fd(self, ns):
        if ns not in self._fds:
            self._fds[ns] = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY | os.O_CLOEXEC)
        return self._fds[ns]

    @contextlib.contextmanager
    def inside(self, ns):
        _setns(self.fd(ns))
        try:
            yield
        finally:
            _setns(self._root)

    def write_sysctl(self, ns, name, value):
        """A sysctl of the namespace (/proc/sys/net is the calling thread's namespace)."""
        with self.inside(ns):
            with open("/proc/sys/" + name.replace(".", "/"), "w", encoding="ascii") as f:
                f.write(str(value))

    def close(self):
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._root is not None:
            os.close(self._root)
            self._root = None


def list_namespaces(prefix):
    out = ip("netns", "list", check=False)
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix + "-")]


def cleanup(prefix, log=print):
    """Kills every process inside the prefix's namespaces and deletes the namespaces (with their
    links and bridges). Safe to call when nothing is left; used at start (a crashed earlier run)
    and at exit."""
    names = list_namespaces(prefix)
    pids = set()
    for ns in names:
        for line in ip("netns", "pids", ns, check=False).split():
            if line.isdigit():
                pids.add(int(line))
    pids.discard(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for _ in range(200):
            pids = {p for p in pids if os.path.exists(f"/proc/{p}") and not _is_zombie(p)}
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    if names:
        ip("-force", batch=[f"netns del {ns}" for ns in names], check=False)
    left = list_namespaces(prefix)
    if left:
        raise NetnsError(f"namespaces left after cleanup: {left}")
    if names and log:
        log(f"netsim: removed {len(names)} namespaces with prefix {prefix}-")


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class PrefixLock:
    """One run per prefix at a time: an flock on /run/netsim-PREFIX.lock (freed at exit, even
    after kill -9, by the kernel)."""

    def __init__(self, prefix):
        self.path = f"/run/netsim-{prefix}.lock"
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise NetnsError(f"another netsim run holds {self.path}; use another --prefix")
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def lock_free_prefix(base, slots=10):
    """The first of base0..base{slots-1} whose lock is free, locked (for runs that may happen
    side by side, such as ctest in several worktrees): (prefix, held PrefixLock)."""
    for k in range(slots):
        lock = PrefixLock(f"{base}{k}")
        try:
            lock.__enter__()
        except NetnsError:
            continue
        return f"{base}{k}", lock
    raise NetnsError(f"all {slots} prefixes {base}0..{base}{slots - 1} are in use")


class Topology:
    """The namespaces, bridges and links of one run (see the module doc)."""

    def __init__(self, prefix, n_nodes, side_a, links=None):
        check_prefix(prefix)
        self.prefix = prefix
        self.n = n_nodes
        self.side_a = side_a  # nodes 0..side_a-1 are on side A
        self.switch = f"{prefix}-sw"
        self.tracker_ns = f"{prefix}-tr"
        self.ns = Namespaces()
        self.links = links if links is not None and links.emulated() else None
        self.switch_proc = None  # links.py, with emulated links

    def node_ns(self, i):
        return f"{self.prefix}-n{i}"

    def side(self, i):
        return "A" if i < self.side_a else "B"

    def hosts(self):
        """(namespace, ip, mac, bridge) of the tracker and every node."""
        yield self.tracker_ns, TRACKER_IP, host_mac(-1), "brA"
        for i in range(self.n):
            yield self.node_ns(i), host_ip(i), host_mac(i), "br" + self.side(i)

    def build(self):
        hosts = list(self.hosts())
        ip(batch=[f"netns add {self.switch}"] + [f"netns add {h[0]}" for h in hosts])
        for ns in [self.switch] + [h[0] for h in hosts]:
            # No IPv6 (its link-local chatter would flood both bridges) and loopback up.
            self.ns.write_sysctl(ns, "net.ipv6.conf.all.disable_ipv6", 1)
            self.ns.write_sysctl(ns, "net.ipv6.conf.default.disable_ipv6", 1)
        if self.links:
            self._build_emulated(hosts)
        else:
            self._build_bridged(hosts)
        neigh = [f"neigh replace {h_ip} lladdr {h_mac} dev eth0 nud permanent" for _, h_ip, h_mac, _ in hosts]
        for ns, h_ip, mac, _ in hosts:
            ip(ns=ns, batch=["link set lo up", f"link set eth0 address {mac}",
                             f"addr add {h_ip}/16 dev eth0", "link set eth0 up"]
               + [line for line in neigh if f" {h_ip} " not in line])

    def _build_bridged(self, hosts):
        sw = ["link add brA type bridge stp_state 0 forward_delay 0",
              "link add brB type bridge stp_state 0 forward_delay 0",
              "link add trA type veth peer name trB",
              "link set trA master brA", "link set trB master brB"]
        for k, (ns, _, mac, br) in enumerate(hosts):
            sw += [f"link add v{k} type veth peer name eth0 netns {ns}", f"link set v{k} master {br}",
                   f"link set v{k} up"]
        sw += ["link set brA up", "link set brB up", "link set trA up", "link set trB up"]
        ip(ns=self.switch, batch=sw)

    def _build_emulated(self, hosts):
        """links.py in the switch namespace makes TAP t<k> for host k; each moves into its host as
        eth0 (the TAP stays attached to links.py, which carries its frames)."""
        spec = [{"mac": mac, "side": "A" if br == "brA" else "B"} for _, _, mac, br in hosts]
        fd, path = tempfile.mkstemp(prefix=f"netsim-{self.prefix}-hosts-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        lp = self.links
        try:
            with self.inside(self.switch):
                self.switch_proc = subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "links.py"), "--hosts", path,
                     "--latency-ms", str(lp.latency_ms), "--jitter-ms", str(lp.jitter_ms), "--loss", str(lp.loss),
                     "--seed", str(lp.seed)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
            ready = self._links_reply(LINKS_READY_TIMEOUT)
        finally:
            os.unlink(path)
        if len(ready.get("ready", [])) != len(hosts):
            raise NetnsError(f"links.py made {ready} for {len(hosts)} hosts")
        ip(ns=self.switch, batch=[f"link set t{k} netns {ns} name eth0" for k, (ns, _, _, _) in enumerate(hosts)])
        for ns, _, _, _ in hosts:
            ip("link", "set", "eth0", "txqueuelen", str(TAP_TXQUEUELEN), ns=ns)

    def inside(self, ns):
        return self.ns.inside(ns)

    def _links_reply(self, timeout):
        proc = self.switch_proc
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            raise NetnsError(f"links.py did not answer within {timeout:.0f} s (exit code {proc.poll()})")
        return json.loads(line)

    def links_command(self, cmd):
        """Sends `cut`, `heal` or `stats` to links.py; its JSON answer."""
        self.switch_proc.stdin.write(cmd + "\n")
        self.switch_proc.stdin.flush()
        return self._links_reply(LINKS_REPLY_TIMEOUT)

    def link_stats(self):
        """links.py's counters and lateness (None with bridges)."""
        return self.links_command("stats") if self.links else None

    def set_trunk(self, up):
        if self.links:
            self.links_command("heal" if up else "cut")
            return
        ip("link", "set", "trA", "up" if up else "down", ns=self.switch)

    def trunk_counters(self):
        """Packets through the trunk so far: {"trA": rx+tx, "trB": rx+tx}; with emulated links,
        {"cross_side_out": frames links.py delivered from one side to the other}."""
        if self.links:
            return {"cross_side_out": self.links_command("stats")["cross_side_out"]}
        counts = {}
        for link in json.loads(ip("-s", "-j", "link", "show", ns=self.switch)):
            if link.get("ifname") in ("trA", "trB"):
                stats = link.get("stats64", {})
                counts[link["ifname"]] = stats["rx"]["packets"] + stats["tx"]["packets"]
        return counts

    def close(self):
        if self.switch_proc is not None:
            self.switch_proc.stdin.close()  # links.py exits at end of input; cleanup() kills it anyway
            try:
                self.switch_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.switch_proc.kill()
                self.switch_proc.wait(timeout=10)
            self.switch_proc.stdout.close()
            self.switch_proc = None
        self.ns.close()


class LinkParams:
    """Latency, jitter and loss of every link (tests/netsim/links.py); all zero: bridges."""

    def __init__(self, latency_ms=0.0, jitter_ms=0.0, loss=0.0, seed=1):
        self.latency_ms, self.jitter_ms, self.loss, self.seed = latency_ms, jitter_ms, loss, seed

    def emulated(self):
        return self.latency_ms > 0 or self.jitter_ms > 0 or self.loss > 0

    def describe(self):
        if not self.emulated():
            return "bridges (no added delay)"
        return (f"user-space switch: {self.latency_ms:g} ms one way"
                + (f" + up to {self.jitter_ms:g} ms jitter" if self.jitter_ms else "")
                + (f", {100 * self.loss:g} % frame loss" if self.loss else ""))
