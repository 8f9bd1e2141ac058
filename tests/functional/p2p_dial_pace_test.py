"""A starting node opens its outbound connections a few at a time (kMaxOutboundDialsPerRound per
one-second dial round, as Bitcoin Core opens one every 500 ms), not all at once from the first
addresses it hears of: those are the oldest nodes of the network, which would collect every
newcomer's connections (issue 17). Its book grows from its first peers' replies in between.

    X --dials--> 12 listeners on 127.0.0.20..31 (X's peers.json; they accept and stay silent)

The listeners record when each connection arrives. Before the pacing, X's ten outbound dials
arrived within milliseconds of each other; now no three arrive within MIN_GAP_FOR_THREE, and
all wanted ones still arrive, in bounded time.

Run: python3 p2p_dial_pace_test.py --build-dir <cmake build dir>
"""

import json
import os
import selectors
import socket
import threading
import time

import framework
import p2p_util as u
from framework import assert_true, wait_until

LISTENERS = 12
WANTED = 6  # the first three rounds of dials (X wants 8 full-relay + 2 block-relay-only)
DIALS_PER_ROUND = 2  # kMaxOutboundDialsPerRound (daemon/net/connman.hpp)
# Dial rounds are at least 1 s apart; three dials (more than one round's) closer than this mean
# two rounds merged. Well below 1 s, so a busy machine that delays a round still passes.
MIN_GAP_FOR_THREE = 0.4


class Listeners:
    """LISTENERS sockets on 127.0.0.20.. that accept, note the time and keep the connection."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.socks, self.kept, self.arrivals = [], [], []
        for i in range(LISTENERS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((f"127.0.0.{20 + i}", 0))
            s.listen(8)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks.append(s)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def addresses(self):
        return [f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self.socks]

    def _run(self):
        while not self.stop:
            for key, _ in self.sel.select(timeout=0.1):
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                self.arrivals.append((time.monotonic(), key.fileobj.getsockname()[0]))
                self.kept.append(conn)

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        for s in self.socks + self.kept:
            s.close()


def test_outbound_dials_are_paced(t):
    lis = Listeners()
    try:
        x = u.net_node(t, start=False)
        now = int(time.time())
        os.makedirs(x.datadir, exist_ok=True)
        with open(os.path.join(x.datadir, "peers.json"), "w", encoding="ascii") as f:
            # Each entry its own source, so that the source mix (kMaxOutboundFromOneSource) does
            # not hold any back.
            json.dump([{"addr": a, "time": now - 60, "from": a, "source": "addr"} for a in lis.addresses()], f)
        x.start()
        wait_until(lambda: len(lis.arrivals) >= WANTED, timeout=30, interval=0.1,
                   what=f"{WANTED} outbound dials from X")
        times = sorted(a for a, _ in lis.arrivals)
        gaps = [round(times[i + DIALS_PER_ROUND] - times[i], 3) for i in range(len(times) - DIALS_PER_ROUND)]
        print(f"X dialled {len(times)} listeners; spans of {DIALS_PER_ROUND + 1} consecutive dials (s): {gaps}")
        assert_true(min(gaps) >= MIN_GAP_FOR_THREE,
                    f"more than {DIALS_PER_ROUND} dials in one round: spans {gaps}")
        # Distinct listeners: every dial is a new address.
        ips = [ip for _, ip in lis.arrivals]
        assert_true(len(set(ips)) == len(ips), f"an address dialled twice: {ips}")
    finally:
        lis.close()


if __name__ == "__main__":
    framework.main([test_outbound_dials_are_paced])
