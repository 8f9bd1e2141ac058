#!/usr/bin/env python3
"""What an idle cheesed costs the host: CPU time and thread wakeups per second.

    python3 bench/idle_bench.py --build-dir build [--seconds 30] [--warmup 5]

Starts one regtest node in a temporary data directory (listening on 127.0.0.1 only, no
tracker, no peers), waits --warmup seconds for its start to settle, then reads its CPU time
(utime + stime of /proc/<pid>/stat) and the context switches of all its threads
(/proc/<pid>/task/*/status: a voluntary switch is a wakeup from a wait) before and after
--seconds. Prints CPU milliseconds per second, the share of one core, and wakeups per second,
per thread name too. The io watchdog's heartbeat dominated this before it learned to idle
(docs/performance.md, "An idle node"). The node is stopped and its directory removed at the end.
"""

import argparse
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT = 20.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def switches(pid):
    """{thread name: voluntary + involuntary context switches} over the process's threads."""
    out = collections.Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status", encoding="ascii") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        name = status["Name"].strip()
        out[name] += int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    opts = ap.parse_args()
    cheesed = os.path.join(opts.build_dir, "daemon", "cheesed")
    if not os.access(cheesed, os.X_OK):
        sys.exit(f"no {cheesed}: build first")
    datadir = tempfile.mkdtemp(prefix="cheese-idle-")
    args = [cheesed, "-regtest", f"-datadir={datadir}", "-notracker", "-listen=1", "-bind=127.0.0.1",
            f"-port={free_port()}", f"-rpcport={free_port()}", "-dnsseed=0"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(opts.warmup)
        if proc.poll() is not None:
            sys.exit(f"cheesed exited with {proc.returncode}")
        t0, c0, s0 = time.monotonic(), cpu_ticks(proc.pid), switches(proc.pid)
        time.sleep(opts.seconds)
        t1, c1, s1 = time.monotonic(), cpu_ticks(proc.pid), switches(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(datadir, ignore_errors=True)
    wall = t1 - t0
    cpu_ms = (c1 - c0) * 1000.0 / CLK_TCK / wall
    total = sum((s1 - s0).values()) / wall
    print(f"idle cheesed over {wall:.1f} s: {cpu_ms:.2f} ms CPU per second ({cpu_ms / 10:.2f} % of a core), "
          f"{total:.1f} wakeups per second")
    for name, n in sorted((s1 - s0).items(), key=lambda kv: -kv[1]):
        print(f"  {name}: {n / wall:.1f} wakeups per second")


if __name__ == "__main__":
    main()
