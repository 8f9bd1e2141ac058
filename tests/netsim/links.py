#!/usr/bin/env python3
"""The simulator's links with latency and loss: a user-space Ethernet switch over TAP devices.

The kernel here has no `netem`, so frames between hosts are carried by this process instead of a
Linux bridge (issue 17). It runs inside the simulator's switch namespace (P-sw), where it creates
one TAP device `t0`, `t1`, ... per host; the simulator then moves each into its host's namespace
as `eth0`. Every frame a host sends is read here and written to the destination host's TAP after
the one-way delay, so a TCP round trip between any two hosts takes 2 x `--latency-ms`:

    delay = latency + uniform(0, jitter), never earlier than the previous frame on the same
            (source, destination) pair (frames are not reordered, as on a cable)

`--loss` drops each frame with that probability (independently, in both directions; TCP
retransmits, as it would over a lossy link). Destinations are found by MAC address (the
simulator gives every host a fixed MAC and permanent neighbour entries: no ARP); broadcast and
multicast frames go to every other host.

Hosts are on side A or B. `cut` drops every frame between the sides, also frames already in
flight at the moment of the cut (a cable pulled); `heal` carries them again.

    links.py --hosts HOSTS.json [--latency-ms 50] [--jitter-ms 0] [--loss 0] [--seed 1]

HOSTS.json: [{"mac": "02:77:...", "side": "A"}, ...] (TAP k is host k of that list).
Prints `{"ready": [tap names]}` on stdout once the TAPs exist. Then reads commands on stdin, one
per line, and answers each with one JSON line (the counters): `cut`, `heal`, `stats`, `reset`
(the lateness measure starts again). Exits at end of stdin
(so it never outlives the simulator: its TAPs vanish with it).

`stats` answers the counters and the emulator's own lateness (how much later than its due time a
frame was written, which grows when the process lacks CPU): a measure of how faithful the delay
was, reported next to the simulator's results.
"""

import argparse
import fcntl
import heapq
import json
import os
import random
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_FRAME = 65536
READ_BURST = 64  # frames read from one TAP per wake-up before looking at the others
LATE_BUCKETS_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
RT_PRIORITY = 10  # SCHED_FIFO priority of the switch (1..99; above every normal process)
MAX_QUEUED_FRAMES = 200_000  # frames in flight at most; beyond, new frames are dropped and counted


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


class Switch:
    def __init__(self, hosts, latency_ms, jitter_ms, loss, seed):
        self.latency = latency_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.loss = loss
        self.rng = random.Random(seed)
        self.names = [f"t{k}" for k in range(len(hosts))]
        self.fds = [open_tap(name) for name in self.names]
        self.port_of_fd = {fd: k for k, fd in enumerate(self.fds)}
        self.port_of_mac = {mac_bytes(h["mac"]): k for k, h in enumerate(hosts)}
        self.side = [h.get("side", "A") for h in hosts]
        self.cut = False
        self.queue = []  # (due, seq, src port, dst port, frame)
        self.seq = 0
        self.last_due = {}  # (src, dst) -> due of the last frame queued on that pair
        self.c = {"frames_in": 0, "frames_out": 0, "bytes_out": 0, "dropped_loss": 0, "dropped_cut": 0,
                  "dropped_unknown_dst": 0, "dropped_queue_full": 0, "dropped_tap_full": 0,
                  "cross_side_out": 0, "queue_peak": 0, "taps_gone": 0}
        self.late_hist = [0] * (len(LATE_BUCKETS_MS) + 1)
        self.late_max = 0.0
        self.priority = "normal"

    def enqueue(self, src, dst, frame, now):
        if self.loss and self.rng.random() < self.loss:
            self.c["dropped_loss"] += 1
            return
        if len(self.queue) >= MAX_QUEUED_FRAMES:
            self.c["dropped_queue_full"] += 1
            return
        due = now + self.latency + (self.rng.random() * self.jitter if self.jitter else 0.0)
        due = max(due, self.last_due.get((src, dst), 0.0))
        self.last_due[(src, dst)] = due
        self.seq += 1
        heapq.heappush(self.queue, (due, self.seq, src, dst, frame))
        self.c["queue_peak"] = max(self.c["queue_peak"], len(self.queue))

    def read_port(self, fd, now):
        """Reads up to READ_BURST frames; False when the TAP is gone (its namespace was deleted:
        it would stay readable with an error, and the switch, at real-time priority, spin)."""
        src = self.port_of_fd[fd]
        for _ in range(READ_BURST):
            try:
                frame = os.read(fd, MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if len(frame) < 14:
                continue
            self.c["frames_in"] += 1
            dst_mac = frame[0:6]
            if dst_mac[0] & 1:  # broadcast or multicast
                for dst in range(len(self.fds)):
                    if dst != src:
                        self.enqueue(src, dst, frame, now)
                continue
            dst = self.port_of_mac.get(dst_mac)
            if dst is None or dst == src:
                self.c["dropped_unknown_dst"] += 1
                continue
            self.enqueue(src, dst, frame, now)
        return True

    def deliver_due(self, now):
        q = self.queue
        while q and q[0][0] <= now:
            due, _, src, dst, frame = heapq.heappop(q)
            cross = self.side[src] != self.side[dst]
            if cross and self.cut:
                self.c["dropped_cut"] += 1
                continue
            late_ms = (now - due) * 1000.0
            self.late_max = max(self.late_max, late_ms)
            b = 0
            while b < len(LATE_BUCKETS_MS) and late_ms > LATE_BUCKETS_MS[b]:
                b += 1
            self.late_hist[b] += 1
            try:
                os.write(self.fds[dst], frame)
            except (BlockingIOError, InterruptedError):
                self.c["dropped_tap_full"] += 1
                continue
            except OSError:
                continue
            self.c["frames_out"] += 1
            self.c["bytes_out"] += len(frame)
            self.c["cross_side_out"] += cross

    def late_quantile(self, q):
        total = sum(self.late_hist)
        if not total:
            return None
        want, seen = q * total, 0
        for b, count in enumerate(self.late_hist):
            seen += count
            if seen >= want:
                return LATE_BUCKETS_MS[b] if b < len(LATE_BUCKETS_MS) else round(self.late_max, 1)
        return round(self.late_max, 1)

    def stats(self):
        cpu = os.times()
        return {**self.c, "queued": len(self.queue), "cut": self.cut, "priority": self.priority,
                "late_ms_p50_at_most": self.late_quantile(0.5), "late_ms_p99_at_most": self.late_quantile(0.99),
                "late_ms_max": round(self.late_max, 1), "cpu_seconds": round(cpu.user + cpu.system, 1)}

    def command(self, line):
        cmd = line.strip()
        if cmd == "reset":  # lateness from now on (the simulator's measured phase)
            self.late_hist = [0] * len(self.late_hist)
            self.late_max = 0.0
        elif cmd == "cut":
            self.cut = True
        elif cmd == "heal":
            self.cut = False
        elif cmd != "stats":
            return {"error": f"unknown command {cmd!r}"}
        return self.stats()


def serve(sw):
    ep = select.epoll()
    for fd in sw.fds:
        ep.register(fd, select.EPOLLIN)
    stdin = sys.stdin.fileno()
    ep.register(stdin, select.EPOLLIN | select.EPOLLHUP)
    pending = b""
    while True:
        now = time.monotonic()
        timeout = -1 if not sw.queue else max(0.0, sw.queue[0][0] - now)
        for fd, _ in ep.poll(timeout):
            now = time.monotonic()
            if fd != stdin:
                if not sw.read_port(fd, now):
                    ep.unregister(fd)
                    sw.c["taps_gone"] += 1
                continue
            data = os.read(stdin, 4096)
            if not data:
                return  # the simulator is gone
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                print(json.dumps(sw.command(line.decode(errors="replace"))), flush=True)
        sw.deliver_due(time.monotonic())


def raise_priority():
    """The switch must run as soon as a frame is due, also while a hundred nodes keep both cores
    busy (at normal priority the scheduler gave it its 1/100th share: frames were up to 240 ms
    late at 100 hosts). Real-time FIFO priority when allowed (root), else nice -20; it blocks in
    epoll between frames, and the kernel's RT throttling keeps 5 % of each second for others."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        return f"SCHED_FIFO {RT_PRIORITY}"
    except (OSError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -20)
        return "nice -20"
    except OSError:
        return "normal"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hosts", required=True)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    opts = p.parse_args()
    with open(opts.hosts, encoding="utf-8") as f:
        hosts = json.load(f)
    sw = Switch(hosts, opts.latency_ms, opts.jitter_ms, opts.loss, opts.seed)
    sw.priority = raise_priority()
    print(json.dumps({"ready": sw.names}), flush=True)
    try:
        serve(sw)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
