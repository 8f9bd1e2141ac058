"""A full disk stops the node cleanly, and nothing it acknowledged is lost.

The node runs with a file-size limit (RLIMIT_FSIZE): past it, writes fail as they would on a full
disk. It mines blocks one generatetoaddress at a time until its chain database cannot grow. It
must then log the storage error and exit with code 1 (not crash, not hang, not go on with a
chain its database does not hold). Restarted without the limit, it holds every block whose
generatetoaddress returned, its database is sound, and it mines on.

Run: python3 storage_test.py --build-dir <cmake build dir>
"""

import os
import resource
import time

import framework
from framework import assert_equal, assert_true

ADDRESS = "rchz1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqedx4de"
# Room the database files get to grow past their size at the start.
ROOM = 1_500_000


def largest_file(directory):
    sizes = [os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory)
             if os.path.isfile(os.path.join(directory, f))]
    return max(sizes) if sizes else 0


def test_full_disk_stops_cleanly_and_keeps_acknowledged_blocks(t):
    n = t.node(start=False)
    n.start()
    n.rpc("generatetoaddress", 5, ADDRESS)
    assert_equal(n.stop(), 0, "clean stop")
    limit = largest_file(n.datadir) + ROOM

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    n.start(preexec=limited)
    acknowledged = []
    failed = None
    deadline = time.monotonic() + 120
    for _ in range(20000):
        if time.monotonic() > deadline:
            break
        try:
            acknowledged += n.rpc("generatetoaddress", 1, ADDRESS)
        except Exception as e:  # the node stopped in the middle of the call
            failed = e
            break
    assert_true(failed is not None, f"the node still mines after {len(acknowledged)} blocks with a "
                                    f"{limit}-byte file limit")
    rc = n.wait_exit(30)
    assert_equal(rc, 1, "exit code after the storage failure")
    with open(n.debug_log, encoding="utf-8", errors="replace") as f:
        log = f.read()
    assert_true("Fatal error" in log, "debug.log names the fatal error")
    print(f"  stopped after {len(acknowledged)} acknowledged blocks (file limit {limit} bytes): {failed!r}")
    assert_true(len(acknowledged) >= 10, "some blocks were mined before the limit")

    # Without the limit: every acknowledged block is there, on the active chain.
    n.start()
    height = n.rpc("getblockcount")
    assert_true(height >= 5 + len(acknowledged), f"height {height} holds the {len(acknowledged)} acknowledged blocks")
    for h, block_hash in enumerate(acknowledged, start=6):
        assert_equal(n.rpc("getblockhash", h), block_hash, f"block at height {h}")
    more = n.rpc("generatetoaddress", 2, ADDRESS)
    assert_equal(n.rpc("getbestblockhash"), more[-1], "mines on after the restart")
    assert_equal(n.stop(), 0, "clean stop after the restart")


if __name__ == "__main__":
    framework.main([test_full_disk_stops_cleanly_and_keeps_acknowledged_blocks])
