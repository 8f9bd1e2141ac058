#!/usr/bin/env python3
"""The network simulator's large runs (issue 17's "done when"): every scenario of
tests/netsim/netsim.py at N hosts over emulated links, one after the other, as one table.

    sudo python3 bench/netsim_bench.py --build-dir build --nodes 100 --latency-ms 50 \\
        [--loss 0] [--scenarios converge,partition,trackerloss,churn,attack] [--json out.json]

Each scenario is a separate netsim.py run (its own namespaces, removed at its end) with the
prefix `nb`; its JSON summary is kept. Prints a markdown table: per scenario and measure the
seconds until every host (median / p90 / max, missing), then per run the links' check (TCP
connect time against 2 x latency, the switch's lateness and CPU), connections and memory. Exit
code 1 when a run failed its bounds (its failures are printed), 2 when one could not run.
Needs root and network namespaces, like the simulator; loopback and 10.77.0.0/16 only.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETSIM = os.path.join(HERE, "..", "tests", "netsim", "netsim.py")
RUN_TIMEOUT = 3600  # seconds for one scenario run at most
SCENARIOS = ("converge", "partition", "trackerloss", "churn", "attack")
# (scenario, key in the summary, measure, label) of the rows shown
MEASURES = [
    ("*", "discovery", None, "discovery (>= min peers)"),
    ("*", "converge", "block", "block from one host"),
    ("*", "converge", "tx", "transaction from one host"),
    ("*", "converge", "confirm_block", "block confirming it"),
    ("partition", "partition", "side_a_block", "partition: block on side A"),
    ("partition", "heal", "tip", "heal: most-work tip"),
    ("partition", "heal", "mempool", "heal: tx back in side B"),
    ("partition", "heal", "confirm", "heal: block confirming it"),
    ("trackerloss", "trackerloss", "join", "newcomer joined, trackers down"),
    ("trackerloss", "trackerloss", "block", "block to the newcomers"),
    ("trackerloss", "trackerloss", "tx", "newcomer's tx to every host"),
    ("churn", "churn", "block", "churn: block to survivors"),
    ("churn", "churn", "rejoin", "churn: restarted back on tip"),
    ("attack", "attack", "block", "attack: honest blocks"),
]


def run_one(opts, scenario):
    cmd = [sys.executable, NETSIM, "--build-dir", opts.build_dir, "--nodes", str(opts.nodes), "--scenario", scenario,
           "--latency-ms", str(opts.latency_ms), "--loss", str(opts.loss), "--jitter-ms", str(opts.jitter_ms),
           "--prefix", "nb", "--auto-prefix"]
    if scenario == "partition":
        cmd += ["--partition-seconds", str(opts.partition_seconds)]
    cmd += opts.extra
    print(f"[{time.strftime('%H:%M:%S')}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, timeout=RUN_TIMEOUT)
    try:
        summary = json.loads(p.stdout)
    except ValueError:
        summary = {"ok": False, "failures": [f"exit {p.returncode}, no summary"]}
    summary["exit_code"] = p.returncode
    summary["wall_seconds"] = round(time.monotonic() - t0, 1)
    return summary


def cell(st):
    if not st:
        return "| – | – | – | – |"
    return f"| {st.get('median')} | {st.get('p90')} | {st.get('max')} | {st.get('missing')} |"


def table(results, opts):
    lines = [f"{opts.nodes} hosts, links {results[0][1].get('links', {}).get('mode', '?')}", "",
             "| scenario | measure (s until every host) | median | p90 | max | missing |", "|---|---|---|---|---|---|"]
    for scenario, s in results:
        for want, key, sub, label in MEASURES:
            if want not in ("*", scenario):
                continue
            st = s.get(key, {}).get(sub) if sub else s.get(key)
            if st:
                lines.append(f"| {scenario} | {label} " + cell(st))
    lines += ["", "| scenario | ok | TCP connect ms (median, min-max) | switch late p99 <= ms (max) | switch CPU s "
              "| inbound median / p90 / max | RSS MB median / max | wall s |", "|---|---|---|---|---|---|---|---|"]
    for scenario, s in results:
        ln = s.get("links", {})
        tcp = ln.get("tcp_connect_ms") or {}
        sw = ln.get("switch") or {}
        c = s.get("connections", {})
        m = s.get("memory", {})
        lines.append(f"| {scenario} | {'yes' if s.get('ok') else 'NO'} | {tcp.get('median')}, {tcp.get('min')}-{tcp.get('max')} "
                     f"| {sw.get('late_ms_p99_at_most')} ({sw.get('late_ms_max')}) | {sw.get('cpu_seconds')} "
                     f"| {c.get('in_median')} / {c.get('in_p90')} / {c.get('in_max')} "
                     f"| {m.get('rss_mb_median')} / {m.get('rss_mb_max')} | {s.get('wall_seconds')} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--partition-seconds", type=float, default=60.0)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--json", help="write every run's summary here")
    p.add_argument("extra", nargs="*", help="more netsim.py options, after --")
    opts = p.parse_args()
    scenarios = [x for x in opts.scenarios.split(",") if x]
    bad = [x for x in scenarios if x not in SCENARIOS]
    if bad:
        p.error(f"unknown scenario(s) {bad}; choose among {SCENARIOS}")
    results = []
    for scenario in scenarios:
        results.append((scenario, run_one(opts, scenario)))
    print(table(results, opts))
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump({sc: s for sc, s in results}, f, indent=1)
    failed = [(sc, s.get("failures")) for sc, s in results if not s.get("ok")]
    for sc, why in failed:
        print(f"{sc}: FAILED {why}", file=sys.stderr)
    if any(s.get("exit_code") == 2 for _, s in results):
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
