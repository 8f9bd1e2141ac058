#!/usr/bin/env python3
"""cheesechain network simulator: N `cheesed` hosts, each in its own network namespace.

    sudo python3 tests/netsim/netsim.py --nodes 100 --scenario partition --partition-seconds 60 --prefix cs

Scenarios (tests/netsim/README.md has the details):
  converge   start everything, mine on one node: seconds until every node has the tip; send a
             transaction: seconds until every mempool has it.
  partition  converge, cut the trunk between sides A and B, mine on both (more on A), send a
             transaction on B (it will be reorged out), keep mining, heal: seconds from the heal
             until every node is on the most-work tip and until the transaction is back in
             side B's mempools; then a side-B block confirms it: seconds until every node has
             it; during the partition every node must reach its side's tip in time.
  trackerloss converge, kill the tracker, start newcomers whose only live source is one
             -seednode: seconds until each has its outbound peers and the tip; then a block from
             an old node and a transaction from a newcomer: seconds until every node has them.
  churn      converge, then rounds of: kill -9 10 % of the nodes, mine on a survivor (seconds
             until every survivor has it), restart the killed ones (seconds until each is back
             on the tip).
  attack     converge, then an attacker host (tests/netsim/attacker.py, not cheesed) floods 3 nodes
             with fake addresses, a block with an unknown parent and a low-work side chain while
             the network mines: honest blocks still reach every node, the victims answer RPC and
             store no attacker header; what they kept of its addresses. The same host tries to
             unlist the victims at the tracker (their version nonces, guessed secrets, a PROXY
             line) and feeds it fake registrations from its one IP: an honest observer's
             `getpeers` answers hold only running nodes, every node stays listed.

Links: bridges by default; with --latency-ms, --jitter-ms or --loss, a user-space switch
(tests/netsim/links.py; the kernel has no netem) delays or drops every frame, and the run checks
that TCP connects take one emulated round trip.

Prints one JSON summary on stdout (progress on stderr). Exit code: 0 when the bounds hold, 1
when they do not, 2 on a setup error, 77 when namespaces cannot be made (not root, no `ip netns`).
"""

import argparse
import collections
import http.client as http_client
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import netns
import sim
from sim import log, stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))

import framework  # noqa: E402
import p2p_util as u  # noqa: E402  (keys, signed transfers)

EXIT_SKIP = 77
ANTI_DOS_BUFFER = 144  # kAntiDosWorkBufferBlocks (daemon/net/header_sync.hpp)
FAKE_PREFIX = "10.77.200."  # the attacker's fake addresses (tests/netsim/attacker.py)
MIN_TRACKER_ANSWERS = 10  # `peers` answers the observer must get during the attack
DEFAULT_HEAL_BOUND = 10.0  # seconds from the heal until every node is on the most-work tip
SETTLE_QUIET = 3.0  # seconds without a change of outbound counts: dialling has settled
# Inbound slots of a node with the default -maxconnections (64 less 8 full-relay and 2
# block-relay-only outbound): a node at this many has filled up (issue 17).
DEFAULT_MAX_INBOUND = 54
# A TCP connect over emulated links may take this much more than a round trip plus jitter (a
# busy machine, a SYN queued behind others); a lost SYN (1 s retry) lands above it.
CONNECT_SLACK_MS = 50.0
DEFAULT_STALE_BOUND = 15.0  # seconds a node may lag its own side's tip during the partition


class Run:
    """One scenario run; `summary` becomes the JSON output, `failures` the reasons to exit 1."""

    def __init__(self, s, opts):
        self.s = s
        self.opts = opts
        self.summary = {"nodes": len(s.nodes), "side_a": s.topo.side_a, "side_b": len(s.nodes) - s.topo.side_a}
        self.failures = []
        self.rng = random.Random(opts.seed)
        self.alice = u.Key("netsim alice")
        self.bob = u.Key("netsim bob")
        self.miner = u.Key("netsim miner")
        self.reach_timeout = opts.reach_timeout or max(30.0, 0.5 * len(s.nodes))

    # --- helpers -----------------------------------------------------------------------------
    def tip_times(self, nodes, tip, t0, timeout, what):
        return self.s.wait_each(nodes, lambda n: n.rpc("getbestblockhash") == tip, timeout, what, t0=t0,
                                raise_on_timeout=False)

    def mine(self, node, count, address):
        return node.rpc("generatetoaddress", count, address)

    def transfer(self, node):
        """alice pays bob 1 CHZ, sent to `node`; returns the Transfer."""
        nonce = node.rpc("getaccount", self.alice.address)["next_nonce"]
        tx = u.make_transfer(self.alice, self.bob.pub, u.COIN, u.MIN_RELAY_FEE, nonce)
        framework.assert_equal(node.rpc("sendrawtransaction", tx.hex), tx.txid, "txid")
        return tx

    def wait_network(self):
        """Every node has at least `want` connections (they came through the tracker)."""
        want = min(self.opts.min_peers, len(self.s.nodes) - 1)
        t0 = time.monotonic()
        times = self.s.wait_each(self.s.nodes, lambda n: n.rpc("getconnectioncount") >= want,
                                 self.reach_timeout * 2, f"connected to {want} peers", interval=0.5)
        log(f"every node has >= {want} peers after {time.monotonic() - t0:.1f} s")
        self.summary["discovery"] = {"min_peers": want, **stats(times, len(self.s.nodes))}
        if self.s.topo.links:  # the emulator's lateness from here on: the measured part of the run
            self.s.topo.links_command("reset")

    # --- converge ----------------------------------------------------------------------------
    def converge(self):
        """Blocks and a transaction from one node to all; leaves alice funded, mempools empty."""
        s = self.s
        self.wait_network()
        n = len(s.nodes)
        # One block on node 0, then the blocks that make alice's coinbase spendable.
        t0 = time.monotonic()
        tip = self.mine(s.nodes[0], 1, self.alice.address)[-1]
        block = self.tip_times(s.nodes, tip, t0, self.reach_timeout, "on the first block")
        log(f"block 1 reached {len(block)}/{n} nodes, max {max(block.values(), default=0):.2f} s")
        miner = s.nodes[self.rng.randrange(n)]
        t0 = time.monotonic()
        tip = self.mine(miner, u.COINBASE_MATURITY + 1, self.miner.address)[-1]
        burst = self.tip_times(s.nodes, tip, t0, self.reach_timeout, "on the tip")
        log(f"{u.COINBASE_MATURITY + 1} blocks from {miner} reached {len(burst)}/{n} nodes")
        # A transaction from the last node to every mempool.
        t0 = time.monotonic()
        tx = self.transfer(s.nodes[-1])
        txt = s.wait_each(s.nodes, lambda nd: tx.txid in nd.rpc("getrawmempool"), self.reach_timeout,
                          "with the transaction", t0=t0, raise_on_timeout=False)
        log(f"transaction reached {len(txt)}/{n} mempools, max {max(txt.values(), default=0):.2f} s")
        # Confirmed, so that the partition starts from empty mempools.
        tip = self.mine(s.nodes[n // 2], 1, self.miner.address)[-1]
        confirm = self.tip_times(s.nodes, tip, time.monotonic(), self.reach_timeout, "on the tip")
        self.summary["converge"] = {"block": stats(block, n), "blocks_11": stats(burst, n), "tx": stats(txt, n),
                                    "confirm_block": stats(confirm, n)}
        for name, res in (("block", block), ("tx", txt), ("confirm_block", confirm)):
            if len(res) < n:
                self.failures.append(f"converge: {n - len(res)} node(s) never got the {name}")
        conns = self.summary["connections"] = self.settled_connections()
        default_slots = not any(arg.startswith("-maxconnections") for arg in (self.opts.node_arg or []))
        if default_slots and conns["in_max"] >= DEFAULT_MAX_INBOUND:
            self.failures.append(f"converge: a node's inbound slots filled up (busiest {conns['in_top'][:3]}, "
                                 f"{DEFAULT_MAX_INBOUND} slots)")

    def settled_connections(self):
        """The connections table once dialling has settled: no node's outbound count changed for
        SETTLE_QUIET seconds (bounded by the reach timeout); `settled_after` says when."""
        s, t0, last = self.s, time.monotonic(), None
        for _ in range(int(self.reach_timeout / SETTLE_QUIET) + 1):
            now = [nd.rpc("getnetworkinfo")["connections_out"] if nd.alive() else -1 for nd in s.nodes]
            if now == last or time.monotonic() - t0 > self.reach_timeout:
                break
            last = now
            time.sleep(SETTLE_QUIET)
        return {**s.connections(), "settled_after": round(time.monotonic() - t0, 1)}

    # --- partition ---------------------------------------------------------------------------
    def partition(self):
        s, opts = self.s, self.opts
        self.converge()
        a_nodes, b_nodes = s.side_nodes("A"), s.side_nodes("B")
        s.topo.set_trunk(False)
        t_cut = time.monotonic()
        before = s.topo.trunk_counters()
        log(f"partition: trunk down ({len(a_nodes)} | {len(b_nodes)} nodes)")
        # Side B: a transaction, then a block with it (the block and the transaction lose later).
        b0 = b_nodes[0]
        tx_b = self.transfer(b0)
        s.wait_each(b_nodes, lambda nd: tx_b.txid in nd.rpc("getrawmempool"), self.reach_timeout,
                    "with side B's transaction", raise_on_timeout=False)
        tracker = SideTracker(self)
        tracker.mined("B", b0, self.mine(b0, 1, self.miner.address)[-1])
        framework.assert_true(tx_b.txid in b0.rpc("getblock", tracker.tip["B"])["tx"], "side B's block has the tx")
        # Keep mining: A every interval, B every second interval, until the partition ends.
        interval = opts.block_interval
        next_block = {"A": time.monotonic(), "B": time.monotonic() + interval}
        end = t_cut + opts.partition_seconds
        for _ in range(int(opts.partition_seconds / sim.POLL_INTERVAL) + 10):
            now = time.monotonic()
            if now >= end:
                break
            for side, step in (("A", interval), ("B", 2 * interval)):
                if now >= next_block[side]:
                    miner = tracker.miner(side)
                    tracker.mined(side, miner, self.mine(miner, 1, self.miner.address)[-1])
                    next_block[side] = now + step
            tracker.sweep()
            time.sleep(sim.POLL_INTERVAL)
        # Side A must hold more work at the heal.
        if tracker.height["A"] <= tracker.height["B"]:
            miner = tracker.miner("A")
            tracker.mined("A", miner, self.mine(miner, tracker.height["B"] - tracker.height["A"] + 1,
                                                self.miner.address)[-1])
        tracker.finish(opts.stale_bound)
        after = s.topo.trunk_counters()
        crossed = sum(after.values()) - sum(before.values())
        self.summary["partition"] = {"seconds": round(time.monotonic() - t_cut, 1), **tracker.report(),
                                     "trunk_packets_during_partition": crossed}
        if crossed:
            self.failures.append(f"partition leaked: {crossed} packets crossed the trunk ({before} -> {after})")
        if tracker.violations:
            self.failures.append(f"stale tips during the partition: {len(tracker.violations)} node(s)")
        self.summary["partition"]["before_heal"] = self.link_snapshot()
        self.heal(tracker.tip["A"], tx_b, b0)

    def link_snapshot(self):
        """Just before the heal: connections that cross the trunk (should be none left) and nodes
        still short of outbound peers (they keep dialling, also across the trunk: what heals a
        short partition at once)."""
        cross, short, out = 0, 0, []
        for node in self.s.nodes:
            try:
                peers = node.rpc("getpeerinfo")
            except (OSError, framework.RpcError, framework.HttpError):
                continue
            n_out = sum(1 for p in peers if not p["inbound"])
            out.append(n_out)
            short += n_out < min(8, len(self.s.nodes) - 1)
            cross += sum(1 for p in peers if not p["inbound"] and side_of(p["addr"], self.s) not in (node.side, "?"))
        return {"cross_side_outbound": cross, "nodes_short_of_outbound": short,
                "outbound_median": statistics.median(out) if out else None}

    def heal(self, best_tip, tx_b, b0):
        """Seconds from the heal until each node is on the most-work tip (`heal.tip`) and, on side
        B, has the reorged-out transfer back in its mempool (`heal.mempool`). Then a side-B node
        mines a block, as its miners would: seconds until every node has the transfer confirmed
        (`heal.confirm`). Side A's mempools are not waited for: only block-relay-only probes cross
        a healed partition (docs/protocol.md 7.5), and they carry no transactions."""
        s, opts = self.s, self.opts
        n = len(s.nodes)
        b_count = len(s.side_nodes("B"))
        s.topo.set_trunk(True)
        t_heal = time.monotonic()
        unix_heal = time.time()
        log("heal: trunk up")
        tip_t, pool_t = {}, {}

        def check(node):
            if node.index not in tip_t and node.rpc("getbestblockhash") == best_tip:
                tip_t[node.index] = time.monotonic() - t_heal
            if node.side == "B" and node.index not in pool_t and tx_b.txid in node.rpc("getrawmempool"):
                pool_t[node.index] = time.monotonic() - t_heal
            return node.index in tip_t and (node.side != "B" or node.index in pool_t)

        s.wait_each(s.nodes, check, opts.heal_timeout, "healed", raise_on_timeout=False)
        tip_stats, pool_stats = stats(tip_t, n), stats(pool_t, b_count)
        self.summary["heal"] = {"tip": tip_stats, "mempool": pool_stats, "bound_seconds": opts.heal_bound}
        log(f"heal: tip max {tip_stats['max']} s ({tip_stats['missing']} missing), "
            f"side B mempool max {pool_stats['max']} s ({pool_stats['missing']} missing)")
        slow = [nd for nd in s.nodes if tip_t.get(nd.index, float("inf")) > opts.heal_bound]
        if slow:
            self.failures.append(f"heal: {len(slow)} node(s) not on the most-work tip within {opts.heal_bound} s")
            self.summary["heal"]["slow_nodes"] = [diagnose(nd, tip_t.get(nd.index), unix_heal) for nd in slow[:5]]
        late_pool = [nd.index for nd in s.side_nodes("B") if nd.index not in pool_t]
        if late_pool:
            self.failures.append(f"heal: {len(late_pool)} side-B mempool(s) never got the reorged-out transaction back")
        self.confirm_after_heal(tx_b, b0)

    def confirm_after_heal(self, tx_b, b0):
        s, n = self.s, len(self.s.nodes)
        block = self.mine(b0, 1, self.miner.address)[-1]
        if tx_b.txid not in b0.rpc("getblock", block)["tx"]:
            self.failures.append("heal: side B's next block does not hold the reorged-out transfer")
        t0 = time.monotonic()
        conf_t = {}

        def check(node):
            if node.index not in conf_t and node.rpc("getbestblockhash") == block:
                conf_t[node.index] = time.monotonic() - t0
            return node.index in conf_t

        s.wait_each(s.nodes, check, self.reach_timeout, "with the transfer confirmed", raise_on_timeout=False)
        self.summary["heal"]["confirm"] = stats(conf_t, n)
        if len(conf_t) < n:
            self.failures.append(f"heal: {n - len(conf_t)} node(s) never got the block confirming the transfer")


    # --- trackerloss -------------------------------------------------------------------------
    def trackerloss(self):
        """converge; kill the tracker; start `--newcomers` nodes whose -tracker is the dead one and
        whose only other source is `-seednode=` one random running node (docs/protocol.md 7.6):
        seconds from their start until each has `--min-peers` outbound connections (or, in a
        network smaller than that allows, every other node as a peer, one dialled by itself) and
        is on the network's tip (`join`); then a block mined on an old node (`block`: seconds until each
        newcomer has it) and a transfer sent from a newcomer (`tx`: seconds until every mempool
        has it)."""
        s, opts = self.s, self.opts
        self.converge()
        old = list(s.nodes)
        tip = old[0].rpc("getbestblockhash")
        s.kill_tracker()
        log(f"trackerloss: tracker killed; starting {opts.newcomers} newcomer(s) with -seednode only")
        t0 = time.monotonic()
        seeds, newcomers = {}, []
        for _ in range(opts.newcomers):
            seed = self.rng.choice(old)
            node = s.add_node([f"-seednode={seed.ip}:{sim.P2P_PORT}"])
            seeds[node.index] = seed.index
            newcomers.append(node)
        s.wait_each(newcomers, sim.SimNode.try_ready, sim.START_TIMEOUT_BASE, "RPC ready", interval=0.2)
        want = min(opts.min_peers, len(old))
        others = len(old) + len(newcomers) - 1

        def joined(node):
            if node.rpc("getbestblockhash") != tip:
                return False
            if node.rpc("getnetworkinfo")["connections_out"] >= want:
                return True
            # In a small network the others may dial the newcomer before it dials them (they have
            # free outbound slots and hear of it from its seed): once every other node is its peer,
            # one of them dialled by itself from what it learned, nothing is left to dial.
            peers = [p for p in node.rpc("getpeerinfo") if p.get("handshake_done")]
            dialled = [p for p in peers if p["connection_type"] in ("outbound-full-relay", "block-relay-only")]
            hosts = {p["addr"].rsplit(":", 1)[0] for p in peers}  # one IP per host
            return len(dialled) >= 1 and len(hosts) >= others

        join = s.wait_each(newcomers, joined, self.reach_timeout * 2, "joined", t0=t0, interval=0.2,
                           raise_on_timeout=False)
        log(f"trackerloss: {len(join)}/{len(newcomers)} newcomer(s) joined, "
            f"max {max(join.values(), default=0):.2f} s")
        k = len(newcomers)
        out = {"newcomers": [{"node": nd.index, "seed": seeds[nd.index], "joined_after": join.get(nd.index)}
                             for nd in newcomers],
               "min_outbound": want, "join": stats(join, k)}
        self.summary["trackerloss"] = out
        if len(join) < k:
            self.failures.append(f"trackerloss: {k - len(join)} newcomer(s) never joined (>= {want} outbound "
                                 f"and on the tip within {self.reach_timeout * 2:.0f} s)")
            out["late"] = [diagnose(nd, None, time.time() - self.reach_timeout * 2) for nd in newcomers
                           if nd.index not in join][:3]
        # A block from an old node, a transfer from a newcomer: to every node, newcomers included.
        miner = self.rng.choice(old)
        t0 = time.monotonic()
        tip = self.mine(miner, 1, self.miner.address)[-1]
        block = self.tip_times(s.nodes, tip, t0, self.reach_timeout, "on the block")
        out["block"] = stats({i: t for i, t in block.items() if i >= len(old)}, k)
        out["block_all"] = stats(block, len(s.nodes))
        t0 = time.monotonic()
        try:
            tx = self.transfer(newcomers[0])
        except (OSError, framework.RpcError, framework.HttpError, framework.TestFailure) as e:
            self.failures.append(f"trackerloss: the newcomer could not send the transfer: {e}")
            txt = {}
        else:
            txt = s.wait_each(s.nodes, lambda nd: tx.txid in nd.rpc("getrawmempool"), self.reach_timeout,
                              "with the newcomer's transaction", t0=t0, raise_on_timeout=False)
        out["tx"] = stats(txt, len(s.nodes))
        log(f"trackerloss: block reached {len(block)}/{len(s.nodes)} nodes, "
            f"transaction {len(txt)}/{len(s.nodes)} mempools")
        for name, res in (("block", block), ("transaction", txt)):
            if len(res) < len(s.nodes):
                self.failures.append(f"trackerloss: {len(s.nodes) - len(res)} node(s) never got the {name}")
        for entry, nd in zip(out["newcomers"], newcomers):
            try:
                info = nd.rpc("getnetworkinfo")
                entry.update(outbound=info["connections_out"], inbound=info["connections_in"],
                             addressbook=info.get("addressbook"))
            except (OSError, framework.RpcError, framework.HttpError) as e:
                entry["rpc_error"] = str(e)
        self.summary["connections"] = s.connections()

    # --- churn -------------------------------------------------------------------------------
    def churn(self):
        """converge; then `--rounds` times: kill -9 `--churn-fraction` of the nodes, mine a block on
        a survivor (`block`: seconds until each survivor has it), restart the killed nodes on
        their data directories (`rejoin`: seconds from the restart until each is on the tip)."""
        s, opts = self.s, self.opts
        self.converge()
        n = len(s.nodes)
        k = min(n - 1, max(1, round(opts.churn_fraction * n)))
        block_t, rejoin_t, rounds = [], [], []
        tip = s.nodes[0].rpc("getbestblockhash")
        for r in range(opts.rounds):
            victims = self.rng.sample(s.nodes, k)
            for node in victims:
                node.kill()
            survivors = [nd for nd in s.nodes if nd not in victims]
            log(f"churn round {r + 1}: killed {', '.join(repr(v) for v in victims)}")
            on_tip = [nd for nd in survivors if _best(nd) == tip] or survivors
            miner = self.rng.choice(on_tip)
            t0 = time.monotonic()
            tip = self.mine(miner, 1, self.miner.address)[-1]
            block = self.tip_times(survivors, tip, t0, self.reach_timeout, "on the block")
            t0 = time.monotonic()
            for node in victims:
                node.restart()
            crashed = set()

            def back(nd, tip=tip, crashed=crashed):
                if nd.index in crashed:
                    return False
                try:
                    return nd.try_ready() and nd.rpc("getbestblockhash") == tip
                except framework.TestFailure as e:  # it exited: a failure of the round, not of the run
                    crashed.add(nd.index)
                    log(f"churn: {e}")
                    return False

            rejoin = s.wait_each(victims, back, self.reach_timeout + sim.START_TIMEOUT_BASE, "back on the tip",
                                 t0=t0, interval=0.2, raise_on_timeout=False)
            block_t += block.values()
            rejoin_t += rejoin.values()
            rounds.append({"round": r + 1, "killed": [v.index for v in victims], "miner": miner.index,
                           "crashed_on_restart": sorted(crashed),
                           "block": stats(block, len(survivors)), "rejoin": stats(rejoin, k)})
            log(f"churn round {r + 1}: block reached {len(block)}/{len(survivors)} survivors "
                f"(max {max(block.values(), default=0):.2f} s), {len(rejoin)}/{k} restarted nodes back on "
                f"the tip (max {max(rejoin.values(), default=0):.2f} s)")
            slow_block = [i for i in (nd.index for nd in survivors) if block.get(i, float("inf")) > self.reach_timeout]
            slow_rejoin = [v.index for v in victims if rejoin.get(v.index, float("inf")) > self.reach_timeout]
            if slow_block:
                self.failures.append(f"churn round {r + 1}: {len(slow_block)} survivor(s) without the block "
                                     f"within {self.reach_timeout:.0f} s: {slow_block[:10]}")
            if slow_rejoin:
                self.failures.append(f"churn round {r + 1}: {len(slow_rejoin)} restarted node(s) not on the tip "
                                     f"within {self.reach_timeout:.0f} s: {slow_rejoin[:10]}")
                rounds[-1]["late"] = [diagnose(s.nodes[i], rejoin.get(i), time.time() - self.reach_timeout)
                                      for i in slow_rejoin[:3]]
        self.summary["churn"] = {"rounds": opts.rounds, "killed_per_round": k, "bound_seconds": self.reach_timeout,
                                 "block": stats(block_t, opts.rounds * (n - k)),
                                 "rejoin": stats(rejoin_t, opts.rounds * k), "per_round": rounds}
        self.summary["connections"] = s.connections()


    # --- attack ------------------------------------------------------------------------------
    def attack(self):
        """converge; mine past the headers anti-DoS buffer; then an attacker host (a spare
        namespace running tests/netsim/attacker.py, not cheesed) floods `--victims` nodes for
        `--attack-seconds` with fake addresses, a block with an unknown parent and a low-work side
        chain, while the honest network mines a block every `--block-interval` seconds; in the same
        window it attacks the tracker (unlist attempts, fake registrations) while a
        TrackerObserver samples the tracker's answers. Fails when an honest block misses a node, a
        victim dies or stops answering RPC, a victim stores a branch of the attacker, or a
        tracker attack works (tracker_report)."""
        s, opts = self.s, self.opts
        self.converge()
        n = len(s.nodes)
        # The tip must be more than kAntiDosWorkBufferBlocks (144) above the side chain's work, or
        # any branch is near enough to the tip to be stored (docs/protocol.md 7.2, 10).
        tip = self.mine(s.nodes[0], ANTI_DOS_BUFFER + 60, self.miner.address)[-1]
        s.wait_each(s.nodes, lambda nd: nd.rpc("getbestblockhash") == tip, self.reach_timeout, "on the tip")
        victims = self.rng.sample(s.nodes, min(opts.victims, n))
        before = {v.index: {"tips": len(v.rpc("getchaintips")), "addressbook": v.rpc("getnetworkinfo")["addressbook"]}
                  for v in victims}
        genesis = s.nodes[0].rpc("getblockhash", 0)
        g_time = s.nodes[0].rpc("getblockheader", genesis)["time"]
        height = s.nodes[0].rpc("getblockcount")
        attacker_ip = netns.host_ip(s.topo.n - 1)
        # The honest observer of the tracker asks from a node that is not a victim.
        observer = TrackerObserver(s, next((nd for nd in s.nodes if nd not in victims), s.nodes[0]), attacker_ip)
        observer.before(self.reach_timeout)
        log(f"attack: attacker {attacker_ip} against {', '.join(repr(v) for v in victims)} and the tracker "
            f"for {opts.attack_seconds:.0f} s; honest blocks every {opts.block_interval:.0f} s")
        proc = s.start_attacker(s.topo.n - 1, [os.path.join(HERE, "attacker.py"), "--seconds", str(opts.attack_seconds),
                                               "--genesis", genesis, "--genesis-time", str(g_time),
                                               "--tip-height", str(height),
                                               "--tracker", f"{netns.TRACKER_IP}:{sim.TRACKER_PORT}"]
                                + [a for v in victims for a in ("--victim", v.ip)])
        observer.start(opts.attack_seconds + 60)
        block_t, rpc_ms, unanswered, dead = [], [], 0, set()
        connected = {v.index: 0 for v in victims}  # samples in which the attacker was a peer of v
        t_start = time.monotonic()
        blocks = 0
        for _ in range(int(opts.attack_seconds / max(opts.block_interval, 0.5)) + 2):
            if time.monotonic() - t_start >= opts.attack_seconds:
                break
            t_next = time.monotonic() + opts.block_interval
            miner = self.rng.choice([nd for nd in s.nodes if nd not in victims] or s.nodes)
            t0 = time.monotonic()
            tip = self.mine(miner, 1, self.miner.address)[-1]
            blocks += 1
            got = self.tip_times(s.nodes, tip, t0, self.reach_timeout, "on the honest block")
            block_t.append(got)
            for v in victims:
                if not v.alive():
                    dead.add(v.index)
                    continue
                t1 = time.monotonic()
                try:
                    v.rpc("getblockcount")
                    rpc_ms.append(1000 * (time.monotonic() - t1))
                    connected[v.index] += any(p["addr"].rsplit(":", 1)[0] == attacker_ip
                                              for p in v.rpc("getpeerinfo"))
                except (OSError, framework.RpcError, framework.HttpError):
                    unanswered += 1
            time.sleep(max(0.0, t_next - time.monotonic()))
        try:
            out, _ = proc.communicate(timeout=opts.attack_seconds + 60)
            report = json.loads(out or "{}")
        except (subprocess.TimeoutExpired, ValueError) as e:
            proc.kill()
            proc.wait(timeout=10)
            report = {"error": str(e)}
        observer.after()
        # Before attack_report, which stops the victims (the tracker then logs them leaving).
        tracker = self.tracker_report(observer, report.get("tracker"), victims)
        self.summary["attack"] = self.attack_report(victims, before, report, attacker_ip, block_t, blocks,
                                                    rpc_ms, unanswered, dead, connected)
        self.summary["attack"]["tracker"] = tracker
        self.summary["connections"] = s.connections()

    def attack_report(self, victims, before, report, attacker_ip, block_t, blocks, rpc_ms, unanswered, dead, connected):
        s, n = self.s, len(self.s.nodes)
        flat = [t for got in block_t for t in got.values()]
        missing = sum(n - len(got) for got in block_t)
        out = {"attacker": attacker_ip, "seconds": self.opts.attack_seconds, "honest_blocks": blocks,
               "block": stats(flat, blocks * n), "victim_rpc_ms": stats(rpc_ms, len(rpc_ms)),
               "attacker_connected_samples": connected,
               "victim_rpc_unanswered": unanswered, "attacker_sent": report.get("victims", report)}
        if missing:
            self.failures.append(f"attack: {missing} (node, honest block) pair(s) never reached")
        if unanswered:
            self.failures.append(f"attack: victims left {unanswered} RPC call(s) unanswered")
        hashes = report.get("hashes", [])
        per_victim = []
        for v in victims:
            entry = {"node": v.index, "ip": v.ip}
            if not v.alive():
                dead.add(v.index)
                per_victim.append(entry)
                continue
            tips = v.rpc("getchaintips")
            entry["chaintips"] = len(tips)
            entry["chaintips_before"] = before[v.index]["tips"]
            entry["attacker_tips"] = sum(1 for tp in tips if tp["hash"] in hashes)
            entry["attacker_headers_stored"] = 0
            for h in hashes:  # the unknown-parent block and every header of the side chain
                try:
                    v.rpc("getblockheader", h)
                    entry["attacker_headers_stored"] += 1
                except framework.RpcError:
                    pass
            if entry["attacker_tips"] or entry["attacker_headers_stored"] or len(tips) > before[v.index]["tips"]:
                self.failures.append(f"attack: {v} stored an attacker branch ({len(tips)} chain tips)")
            peers = v.rpc("getpeerinfo")
            entry["attacker_connected"] = any(p["addr"].rsplit(":", 1)[0] == attacker_ip for p in peers)
            entry["attacker_discouraged"] = any(b["address"].rsplit(":", 1)[0] == attacker_ip
                                                for b in v.rpc("listbanned"))
            entry["addressbook_before"] = before[v.index]["addressbook"]
            entry["addressbook_after"] = v.rpc("getnetworkinfo")["addressbook"]
            entry["rss_mb"] = round(v.rss_mb() or 0, 1)
            per_victim.append(entry)
        self.summary["memory"] = s.memory()
        # peers.json is written at shutdown: stop the victims and count what they kept.
        for v in victims:
            entry = next(e for e in per_victim if e["node"] == v.index)
            if v.index in dead:
                entry["died"] = True
                continue
            v.close_rpc()
            v.process.terminate()
            try:
                v.process.wait(timeout=sim.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                entry["stop_timeout"] = True
                continue
            saved = saved_addresses(v.datadir)
            entry["peers_json_attacker"] = sum(1 for a in saved if a.startswith(FAKE_PREFIX))
            entry["peers_json_honest"] = len(saved) - entry["peers_json_attacker"]
        if dead:
            self.failures.append(f"attack: victim(s) {sorted(dead)} died")
        out["victims"] = per_victim
        log(f"attack: {blocks} honest blocks, {missing} missing; victims' peers.json attacker/honest: "
            + ", ".join(f"{e.get('peers_json_attacker')}/{e.get('peers_json_honest')}" for e in per_victim))
        return out

    def tracker_report(self, obs, atk, victims):
        """summary["attack"]["tracker"]: the attacker's tracker attempts and replies by kind, what
        the honest observer saw, what the tracker logged. A failure for every attack that worked
        (a victim unlisted or gone from the tracker, a registration, heartbeat or PROXY line of the
        attacker taken, an attacker or unknown address handed out, more registrations than the
        per-IP limit allows) and for a check that could not have failed (no nonce learned, no
        attempt of a kind, no refusal proving the nonce was the victim's, too few answers)."""
        fail = self.failures.append
        facts = tracker_log_facts(obs.log_lines(), victims, obs.attacker_ip)
        if not atk:
            fail("attack: the attacker reported no tracker attack")
            atk = {}
        replies, attempts = atk.get("replies", {}), atk.get("attempts", {})
        learned = atk.get("nonces_learned", {})
        unlearned = [v.ip for v in victims if not learned.get(v.ip)]
        if unlearned:
            fail(f"attack: the attacker did not learn the version nonce of {unlearned}: no unlist attempt")
        for kind in ("hijack_register", "hijack_heartbeat", "hijack_deregister", "hijack_proxy", "fake_register",
                     "guessed_secret_heartbeat", "guessed_secret_deregister"):
            if not attempts.get(kind):
                fail(f"attack: the attacker made no {kind} attempt")
        in_use = replies.get("hijack_register", {}).get(f"trackererror {u.NONCE_IN_USE}", 0)
        if in_use < len(victims):
            fail(f"attack: only {in_use} register(s) with a victim's nonce refused as 'node nonce in use' "
                 f"(trackererror {u.NONCE_IN_USE}): the tracker took them, or they were not the victims' nonces")
        taken = {"hijack_register": replies.get("hijack_register", {}).get("registered", 0),
                 "hijack_heartbeat": replies.get("hijack_heartbeat", {}).get("status", 0),
                 "guessed_secret_heartbeat": replies.get("guessed_secret_heartbeat", {}).get("status", 0),
                 "guessed_secret_deregister": replies.get("guessed_secret_deregister", {}).get("status", 0),
                 "hijack_proxy": sum(k for w, k in replies.get("hijack_proxy", {}).items()
                                     if w not in ("closed", "connect failed"))}
        for kind, k in taken.items():
            if k:
                fail(f"attack: the tracker took {k} {kind} attempt(s) of the attacker (replies {replies.get(kind)})")
        if atk.get("max_held_fakes", 0) > obs.max_per_ip:
            fail(f"attack: the attacker held {atk['max_held_fakes']} registrations from one IP "
                 f"(-maxperip {obs.max_per_ip})")
        status = {}
        for phase, samples in obs.status.items():
            status[phase] = {"samples": len(samples), "listed_min": min((x[0] for x in samples), default=None),
                             "listed_max": max((x[0] for x in samples), default=None),
                             "registered_max": max((x[1] for x in samples), default=None)}
            if not samples:
                fail(f"attack: the tracker's GET /status could not be read {phase} the attack")
            elif status[phase]["listed_min"] != obs.n or status[phase]["listed_max"] != obs.n:
                fail(f"attack: the tracker listed {status[phase]['listed_min']}..{status[phase]['listed_max']} "
                     f"nodes {phase} the attack, not the {obs.n} running")
            elif status[phase]["registered_max"] > obs.n + obs.max_per_ip:
                fail(f"attack: {status[phase]['registered_max']} registrations {phase} the attack: more than the "
                     f"{obs.n} nodes and the attacker's -maxperip {obs.max_per_ip}")
        bad = sum(obs.bad_answers.values())
        if bad:
            fail(f"attack: {bad} tracker answer(s) broke a rule, e.g. {obs.bad_examples[0]['why']}")
        if obs.answers["during"] < MIN_TRACKER_ANSWERS:
            fail(f"attack: the observer got only {obs.answers['during']} `peers` answers during the attack")
        if facts["victim_left_or_unlisted"]:
            fail(f"attack: the tracker logged a victim leaving: {facts['victim_left_or_unlisted'][0]}")
        if facts["attacker_listed"]:
            fail(f"attack: the tracker listed an address of the attacker: {facts['attacker_listed'][0]}")
        sizes = sorted(obs.sizes)
        observer = {"answers": dict(obs.answers), "bad_answers": dict(obs.bad_answers),
                    "bad_examples": obs.bad_examples, "entries": dict(obs.entries),
                    "answer_size": {"min": sizes[0], "median": statistics.median(sizes), "max": sizes[-1]}
                    if sizes else None,
                    "max_of_one_group": obs.max_group, "maxpergroup": obs.max_per_group, "maxperip": obs.max_per_ip,
                    "distinct_nodes_handed_out": len(obs.handed_out),
                    "victims_handed_out": {v.ip: obs.handed_out.get(f"{v.ip}:{sim.P2P_PORT}", 0) for v in victims},
                    "status": status, "errors": dict(obs.errors)}
        log(f"attack: tracker: {sum(attempts.get(k, 0) for k in attempts if not k.startswith('fake'))} unlist "
            f"attempts, {attempts.get('fake_register', 0)} fake registrations "
            f"({sum(atk.get('fakes_accepted', {}).values())} accepted, none may be listed), replies "
            f"{atk.get('trackererror_codes')}; observer: {sum(obs.answers.values())} answers, {bad} bad, "
            f"listed {status['during']['listed_min']}..{status['during']['listed_max']} of {obs.n}")
        return {"attacker": atk, "observer": observer, "log": facts}


MAX_TRACKER_PEERS = 10  # kMaxTrackerPeers: entries in one `peers` answer
DEFAULT_MAX_PER_IP = 4  # kDefaultMaxPerIp (the tracker's -maxperip when not given)
DEFAULT_MAX_PER_GROUP = 2  # kDefaultMaxPerGroup (-maxpergroup)
TRACKER_SAMPLE_INTERVAL = 0.1  # seconds between two `getpeers` of the observer during the attack
TRACKER_STATUS_INTERVAL = 1.0  # seconds between two GET /status during the attack
TRACKER_PHASE_SAMPLES = 10  # `getpeers` answers sampled before and after the attack
TRACKER_MAX_SAMPLES = 5000  # bound on the observer's `getpeers` during the attack
TRACKER_IO_TIMEOUT = 5.0  # seconds for one observer request


def tracker_option(s, name, default):
    """The value of the simulator's tracker option -name=N (sim.py starts it), else `default`."""
    for arg in (s.tracker.args if s.tracker is not None else []):
        if arg.startswith(f"-{name}="):
            return int(arg.split("=", 1)[1])
    return default


class TrackerObserver:
    """An honest client of the tracker, not the attacker: sockets made in a non-victim node's
    namespace (as sim.py does for RPC). Samples `getpeers` and GET /status before, during (on its
    own thread) and after the attack, and checks every answer: only running nodes at the P2P
    port, never the attacker's IP, no entry twice, at most -maxpergroup per /16; every node
    listed; registrations within the nodes plus the attacker's -maxperip."""

    def __init__(self, s, node, attacker_ip):
        self.s, self.ns, self.attacker_ip = s, node.ns, attacker_ip
        self.honest = {f"{nd.ip}:{sim.P2P_PORT}" for nd in s.nodes}
        self.n = len(s.nodes)
        self.max_per_ip = tracker_option(s, "maxperip", DEFAULT_MAX_PER_IP)
        self.max_per_group = tracker_option(s, "maxpergroup", DEFAULT_MAX_PER_GROUP)
        self.conn = None
        self.answers = collections.Counter()  # phase -> `peers` answers checked
        self.bad_answers = collections.Counter()  # phase -> answers that broke a rule
        self.bad_examples = []
        self.entries = collections.Counter()  # "honest", "attacker", "unknown"
        self.handed_out = collections.Counter()  # honest ip:port -> times in an answer
        self.sizes = []
        self.max_group = 0
        self.status = {"before": [], "during": [], "after": []}  # [listed, registered] per GET /status
        self.errors = collections.Counter()
        self.log_offset = 0
        self._stop = threading.Event()
        self.thread = None

    def _connect(self):
        with self.s.topo.ns.inside(self.ns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(TRACKER_IO_TIMEOUT)
            sock.connect((netns.TRACKER_IP, sim.TRACKER_PORT))
        except OSError:
            sock.close()
            raise
        return u.TrackerConn(sim.TRACKER_PORT, sock=sock)

    def peers(self, phase):
        """One `getpeers` on the observer's connection (made again after an error), checked."""
        try:
            if self.conn is None:
                self.conn = self._connect()
            answer = self.conn.peers()
        except (OSError, framework.TestFailure) as e:
            self.errors[f"getpeers: {type(e).__name__}"] += 1
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            return
        self.check(phase, [f"{ip}:{port}" for ip, port in answer])

    def check(self, phase, addrs):
        self.answers[phase] += 1
        self.sizes.append(len(addrs))
        why = []
        groups = collections.Counter(".".join(a.split(".")[:2]) for a in addrs)
        self.max_group = max([self.max_group] + list(groups.values()))
        for a in addrs:
            if a.rsplit(":", 1)[0] == self.attacker_ip:
                self.entries["attacker"] += 1
                why.append(f"the attacker's {a}")
            elif a not in self.honest:
                self.entries["unknown"] += 1
                why.append(f"{a} is not a running node")
            else:
                self.entries["honest"] += 1
                self.handed_out[a] += 1
        if len(set(addrs)) < len(addrs):
            why.append("an entry twice")
        if len(addrs) > MAX_TRACKER_PEERS or any(k > self.max_per_group for k in groups.values()):
            why.append(f"{len(addrs)} entries, {max(groups.values())} of one /16 (limit {self.max_per_group})")
        if why:
            self.bad_answers[phase] += 1
            if len(self.bad_examples) < 5:
                self.bad_examples.append({"phase": phase, "why": why[:3], "answer": addrs})

    def read_status(self, phase):
        """[listed, registered] regtest entries from the tracker's GET /status."""
        http = sim.NsHttp(self.s.topo.ns, self.ns, netns.TRACKER_IP, sim.TRACKER_PORT, TRACKER_IO_TIMEOUT)
        try:
            http.request("GET", "/status")
            doc = json.loads(http.getresponse().read())
            self.status[phase].append([doc["listed"]["regtest"], doc["networks"]["regtest"]])
            return self.status[phase][-1]
        except (OSError, http_client.HTTPException, ValueError, KeyError, TypeError) as e:
            self.errors[f"status: {type(e).__name__}"] += 1
            return None
        finally:
            http.close()

    def before(self, timeout):
        """Waits (bounded) until every node is listed, then samples; remembers where the tracker's
        log ends (the log check reads only what follows)."""
        try:
            self.log_offset = os.path.getsize(self.log_path())
        except OSError:
            self.log_offset = 0
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.2) + 2):
            got = self.read_status("before")
            if (got and got[0] == self.n) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.status["before"] = self.status["before"][-1:]  # the state the attack starts from
        for _ in range(TRACKER_PHASE_SAMPLES):
            self.peers("before")

    def start(self, seconds):
        self.thread = threading.Thread(target=self._during, args=(seconds,), daemon=True)
        self.thread.start()

    def _during(self, seconds):
        end = time.monotonic() + seconds
        next_status = 0.0
        for _ in range(TRACKER_MAX_SAMPLES):
            if self._stop.is_set() or time.monotonic() > end:
                break
            if time.monotonic() >= next_status:
                self.read_status("during")
                next_status = time.monotonic() + TRACKER_STATUS_INTERVAL
            self.peers("during")
            self._stop.wait(TRACKER_SAMPLE_INTERVAL)

    def after(self):
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2 * TRACKER_IO_TIMEOUT + 5)
        for _ in range(TRACKER_PHASE_SAMPLES):
            self.peers("after")
        self.read_status("after")
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def log_path(self):
        return os.path.join(self.s.workdir, "tracker.log")

    def log_lines(self):
        try:
            with open(self.log_path(), encoding="utf-8", errors="replace") as f:
                f.seek(self.log_offset)
                return f.read().splitlines()
        except OSError:
            return []


def tracker_log_facts(lines, victims, attacker_ip):
    """What the tracker logged since the attack started: victims that left or were unlisted
    (must be none), attacker entries listed (must be none), its failed connect-backs by reason,
    its refusals and the registrations it accepted from the attacker."""
    a = re.escape(attacker_ip)
    victim_addrs = [f"{v.ip}:{sim.P2P_PORT}" for v in victims]
    out = {"victim_left_or_unlisted": [ln for ln in lines if any(f"leave regtest {va} " in ln or
                                                               f"unlisted regtest {va} " in ln for va in victim_addrs)],
           "attacker_listed": [ln for ln in lines if re.search(rf"(?<!not )(?<!un)\blisted regtest {a}:", ln)],
           "attacker_joins": sum(1 for ln in lines if re.search(rf"\bjoin regtest {a}:", ln)),
           "attacker_refused_registrations": sum(1 for ln in lines if f"refused registration of regtest {attacker_ip}:"
                                                 in ln),
           "attacker_refused_proxy_lines": sum(1 for ln in lines if f"refused a PROXY line from {attacker_ip}:" in ln),
           "attacker_not_listed": collections.Counter()}
    for ln in lines:
        m = re.search(rf"not listed regtest {a}:\d+ id \w+ \(connect-back failed: (.*)\)$", ln)
        if m:
            out["attacker_not_listed"][re.sub(r"\d+\.\d+\.\d+\.\d+:\d+", "IP:PORT", m.group(1))] += 1
    out["attacker_not_listed"] = dict(out["attacker_not_listed"])
    out["victim_left_or_unlisted"] = out["victim_left_or_unlisted"][:10]
    out["attacker_listed"] = out["attacker_listed"][:10]
    return out


def saved_addresses(datadir):
    """ip:port of every entry of a stopped node's peers.json (as p2p_util.saved_addresses)."""
    try:
        with open(os.path.join(datadir, "peers.json"), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return []
    entries = doc.get("entries", []) if isinstance(doc, dict) else doc
    return [e.get("addr", "") for e in entries if isinstance(e, dict)]


def _best(node):
    try:
        return node.rpc("getbestblockhash")
    except (OSError, framework.RpcError, framework.HttpError):
        return None


class SideTracker:
    """During the partition: each side's newest tip, and for every node how long it takes to
    reach it. A node still behind its side's tip `stale_bound` seconds after that tip was mined
    is a stale-tip violation (its own side is reachable and in its address book)."""

    def __init__(self, run):
        self.run = run
        self.nodes = {"A": run.s.side_nodes("A"), "B": run.s.side_nodes("B")}
        self.tip, self.mined_at, self.height = {}, {}, {"A": 0, "B": 0}
        self.on_tip = {"A": set(), "B": set()}  # node indexes on the side's current tip
        self.delays = {"A": [], "B": []}
        self.violations = {}  # node index -> {"side", "lag", "tip"}
        self.blocks = {"A": 0, "B": 0}
        for side in ("A", "B"):
            h = self.nodes[side][0].rpc("getblockcount")
            self.height[side] = h

    def mined(self, side, node, tip):
        self.tip[side] = tip
        self.mined_at[side] = time.monotonic()
        self.height[side] = node.rpc("getblockcount")
        self.on_tip[side] = {node.index}
        self.blocks[side] += 1

    def miner(self, side):
        """A node already on the side's tip (so that the side's chain stays one chain)."""
        return self.run.s.nodes[self.run.rng.choice(sorted(self.on_tip[side]))] if side in self.tip else \
            self.nodes[side][0]

    def sweep(self):
        now = time.monotonic()
        for side in ("A", "B"):
            if side not in self.tip:
                continue
            for node in self.nodes[side]:
                if node.index in self.on_tip[side]:
                    continue
                try:
                    best = node.rpc("getbestblockhash")
                except (OSError, framework.RpcError, framework.HttpError):
                    continue
                if best == self.tip[side]:
                    self.on_tip[side].add(node.index)
                    self.delays[side].append(now - self.mined_at[side])
                elif now - self.mined_at[side] > self.run.opts.stale_bound and node.index not in self.violations:
                    self.violations[node.index] = {"node": node.index, "side": side,
                                                   "lag": round(now - self.mined_at[side], 1), "tip": best[:16]}

    def finish(self, bound):
        """Waits (bounded) until every node is on its side's tip; the ones that are not are
        violations with a diagnosis."""
        deadline = time.monotonic() + bound
        for _ in range(int(bound / sim.POLL_INTERVAL) + 2):
            self.sweep()
            if all(len(self.on_tip[s]) == len(self.nodes[s]) for s in ("A", "B")) or time.monotonic() > deadline:
                break
            time.sleep(sim.POLL_INTERVAL)
        for side in ("A", "B"):
            for node in self.nodes[side]:
                if node.index not in self.on_tip[side]:
                    v = self.violations.setdefault(node.index, {"node": node.index, "side": side})
                    v.update(diagnose(node, None, time.time() - bound))

    def report(self):
        n_a, n_b = len(self.nodes["A"]), len(self.nodes["B"])
        return {"blocks_a": self.blocks["A"], "blocks_b": self.blocks["B"],
                "height_a": self.height["A"], "height_b": self.height["B"],
                "side_a_block": stats(self.delays["A"], len(self.delays["A"])),
                "side_b_block": stats(self.delays["B"], len(self.delays["B"])),
                "stale_tip_violations": sorted(self.violations.values(), key=lambda v: v["node"]),
                "stale_bound_seconds": self.run.opts.stale_bound, "nodes": [n_a, n_b]}


def diagnose(node, seconds, since_unix):
    """What a late node looked like: its tip, its peers and their sides, its address book size,
    and its log lines about connections since `since_unix`."""
    out = {"node": node.index, "side": node.side, "reached_after": seconds}
    try:
        out["height"] = node.rpc("getblockcount")
        info = node.rpc("getnetworkinfo")
        out["addressbook"] = info.get("addressbook")
        peers = node.rpc("getpeerinfo")
        out["peers"] = [f"{'in ' if p['inbound'] else 'out'} {p['addr']} side {side_of(p['addr'], node.sim)} "
                        f"lastrecv {int(time.time() - p.get('lastrecv', 0))}s ago" for p in peers]
    except Exception as e:  # noqa: BLE001 - diagnosis must not hide the result
        out["rpc_error"] = str(e)
    lines = node.log_lines_since(since_unix)
    out["log"] = [ln for ln in lines if "[net]" not in ln or "connect" in ln or "disconnect" in ln][-15:]
    return out


def side_of(addr, s):
    host = addr.rsplit(":", 1)[0]
    for node in s.nodes:
        if node.ip == host:
            return node.side
    return "tracker" if host == netns.TRACKER_IP else "?"


def check_links(rep, opts):
    """The emulation did what was asked: a TCP connect takes at least one round trip (2 x the
    latency) and at most that plus the jitter and CONNECT_SLACK_MS; the share of frames lost is
    within 5 standard deviations (+5 frames) of --loss; nothing crossed while cut."""
    if not rep.get("switch"):
        return []
    out = []
    tcp = rep.get("tcp_connect_ms")
    rtt = 2 * opts.latency_ms
    if not tcp:
        out.append("links: no TCP connect between two nodes succeeded")
    elif tcp["min"] < 0.98 * rtt or tcp["median"] > rtt + 2 * opts.jitter_ms + CONNECT_SLACK_MS:
        out.append(f"links: TCP connect took {tcp} ms, expected {rtt:g}..{rtt + 2 * opts.jitter_ms + CONNECT_SLACK_MS:g}")
    sw = rep["switch"]
    frames, lost = sw["frames_in"], sw["dropped_loss"]
    expect = frames * opts.loss
    sd = (frames * opts.loss * (1 - opts.loss)) ** 0.5
    if abs(lost - expect) > 5 * sd + 5:
        out.append(f"links: {lost} of {frames} frames lost, expected about {expect:.0f} (--loss {opts.loss})")
    return out


def print_table(summary):
    """The timings as a table on stderr (the JSON on stdout has everything)."""
    rows = [("discovery", summary.get("discovery"))]
    for key in ("block", "blocks_11", "tx", "confirm_block"):
        rows.append((f"converge {key}", summary.get("converge", {}).get(key)))
    part = summary.get("partition", {})
    heal = summary.get("heal", {})
    rows += [("partition side A block", part.get("side_a_block")), ("partition side B block", part.get("side_b_block")),
             ("heal tip", heal.get("tip")), ("heal mempool (side B)", heal.get("mempool")),
             ("heal confirm", heal.get("confirm"))]
    loss = summary.get("trackerloss", {})
    churn = summary.get("churn", {})
    rows += [("trackerloss join", loss.get("join")), ("trackerloss block", loss.get("block")),
             ("trackerloss tx", loss.get("tx")), ("churn block (survivors)", churn.get("block")),
             ("churn rejoin (restarted)", churn.get("rejoin")),
             ("attack honest blocks", summary.get("attack", {}).get("block"))]
    lines = [f"{'seconds until every node':<26} {'median':>7} {'p90':>7} {'max':>7} {'missing':>7}"]
    for name, st in rows:
        if st:
            lines.append(f"{name:<26} " + " ".join(f"{str(st.get(k)):>7}" for k in ("median", "p90", "max", "missing")))
    if part:
        lines.append(f"stale-tip violations: {len(part.get('stale_tip_violations', []))}; "
                     f"trunk packets during the partition: {part.get('trunk_packets_during_partition')}")
    lines.append(f"connections: {summary.get('connections')}; memory: {summary.get('memory')}")
    links = summary.get("links")
    if links:
        sw = links.get("switch") or {}
        lines.append(f"links: {links['mode']}; TCP connect ms {links.get('tcp_connect_ms')}"
                     + (f"; switch frames {sw.get('frames_out')}, lost {sw.get('dropped_loss')}, "
                        f"late p99 <= {sw.get('late_ms_p99_at_most')} ms (max {sw.get('late_ms_max')}), "
                        f"cpu {sw.get('cpu_seconds')} s" if sw else ""))
    print("\n".join(lines), file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"),
                   help="cmake build directory with daemon/cheesed and tracker/cheese-tracker")
    p.add_argument("--nodes", type=int, default=12)
    p.add_argument("--scenario", choices=("converge", "partition", "trackerloss", "churn", "attack"),
                   default="converge")
    p.add_argument("--prefix", default="ns", help="name prefix of namespaces (a-z0-9, at most 8)")
    p.add_argument("--partition-seconds", type=float, default=60.0)
    p.add_argument("--block-interval", type=float, default=5.0,
                   help="seconds between blocks on side A during the partition (B: twice that)")
    p.add_argument("--heal-bound", type=float, default=DEFAULT_HEAL_BOUND)
    p.add_argument("--heal-timeout", type=float, default=None,
                   help="how long to measure after the heal (default: max(60, 6 x heal bound))")
    p.add_argument("--stale-bound", type=float, default=DEFAULT_STALE_BOUND)
    p.add_argument("--reach-timeout", type=float, default=None,
                   help="bound on each converge, trackerloss and churn measurement (default: max(30, nodes / 2) s)")
    p.add_argument("--min-peers", type=int, default=4, help="connections each node needs before mining")
    p.add_argument("--newcomers", type=int, default=2,
                   help="trackerloss: nodes started after the tracker is killed, each with one -seednode")
    p.add_argument("--rounds", type=int, default=3, help="churn: kill/restart rounds")
    p.add_argument("--churn-fraction", type=float, default=0.1,
                   help="churn: share of the nodes killed with SIGKILL in each round (at least 1)")
    p.add_argument("--victims", type=int, default=3, help="attack: nodes the attacker host connects to")
    p.add_argument("--attack-seconds", type=float, default=20.0, help="attack: how long the attacker floods")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="one-way delay of every link in ms (user-space switch, tests/netsim/links.py)")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="extra delay, uniform in 0..this, per frame")
    p.add_argument("--loss", type=float, default=0.0, help="share of frames dropped on every link (0..0.5)")
    p.add_argument("--start-interval", type=float, default=0.0,
                   help="seconds between two nodes' starts (default 0: all at once, the worst case for spread)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--debug", action="append", default=None, help="cheesed -debug category (default: net)")
    p.add_argument("--node-arg", action="append", default=[], help="extra cheesed option (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep data directories and logs")
    p.add_argument("--auto-prefix", action="store_true",
                   help="use the first free PREFIX0..PREFIX9 (for runs side by side)")
    p.add_argument("--cleanup-only", action="store_true", help="remove leftovers of the prefix and exit")
    opts = p.parse_args(argv)
    if opts.heal_timeout is None:
        opts.heal_timeout = max(60.0, 6 * opts.heal_bound)
    if opts.nodes < 2 or opts.nodes > 1000:
        p.error("--nodes: 2..1000")
    if not 0 <= opts.latency_ms <= 10000 or not 0 <= opts.jitter_ms <= 10000 or not 0 <= opts.loss <= 0.5:
        p.error("--latency-ms and --jitter-ms: 0..10000, --loss: 0..0.5")
    if not 1 <= opts.newcomers <= 50 or not 1 <= opts.rounds <= 100 or not 0 < opts.churn_fraction < 1:
        p.error("--newcomers: 1..50, --rounds: 1..100, --churn-fraction: between 0 and 1")
    return opts


def _note_signal_during_cleanup(signum, _frame):
    print(f"netsim: signal {signum} during cleanup; still removing everything", file=sys.stderr, flush=True)


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None):
    opts = parse_args(argv)
    try:
        netns.check_prefix(opts.prefix)
    except netns.NetnsError as e:
        print(e, file=sys.stderr)
        return 2
    # One namespace file and one RPC socket per node stay open: raise the soft limit on open
    # files to the hard one (1,000 hosts need more than the usual 1,024).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass  # a small network still runs
    why = netns.available()
    if why:
        print(f"SKIP: {why}", file=sys.stderr)
        return EXIT_SKIP
    # SIGINT (even when inherited as ignored, as in a background job), SIGTERM and SIGHUP unwind
    # like Ctrl-C, so that the finally below always cleans up.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    try:
        if opts.auto_prefix:
            opts.prefix, lock = netns.lock_free_prefix(opts.prefix)
        else:
            lock = netns.PrefixLock(opts.prefix).__enter__()
    except netns.NetnsError as e:
        print(f"netsim: {e}", file=sys.stderr)
        return 2
    try:
        return run_locked(opts)
    except KeyboardInterrupt as e:
        print(f"netsim: interrupted ({e or 'Ctrl-C'}); everything was removed", file=sys.stderr)
        return 130
    finally:
        lock.__exit__()


def run_locked(opts):
    """The run itself, with the prefix's lock held."""
    if opts.cleanup_only:
        netns.cleanup(opts.prefix, log=log)
        return 0
    s = sim.Simulator(opts.build_dir, opts.nodes, opts.prefix, debug=opts.debug or ["net"],
                      extra_args=opts.node_arg, keep=opts.keep,
                      spare={"trackerloss": opts.newcomers, "attack": 1}.get(opts.scenario, 0),
                      links=netns.LinkParams(opts.latency_ms, opts.jitter_ms, opts.loss, opts.seed),
                      start_interval=opts.start_interval)
    run = None
    t0 = time.monotonic()
    try:
        s.start()
        run = Run(s, opts)
        getattr(run, opts.scenario)()
        run.summary["memory"] = s.memory()
        run.summary["links"] = s.link_report()
        run.failures += check_links(run.summary["links"], opts)
    except (framework.TestFailure, netns.NetnsError) as e:
        s.failed = True
        print(f"netsim: {e}", file=sys.stderr)
        return 2
    finally:
        if run is not None:
            run.summary.update(scenario=opts.scenario, seconds=round(time.monotonic() - t0, 1),
                               failures=run.failures, ok=not run.failures)
            run.summary["loadavg"] = [round(x, 2) for x in os.getloadavg()]
            s.failed = s.failed or bool(run.failures)
            print_table(run.summary)
            print(json.dumps(run.summary, indent=1, default=str), flush=True)
        # A second Ctrl-C or SIGTERM (`timeout` forwards its own to us) must not cut the cleanup
        # short: it once left 1,000 nodes and their namespaces running.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _note_signal_during_cleanup)
        s.close()
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
