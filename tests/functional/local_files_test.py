"""Local security of the data directory (issue 18, first part).

A node started by a caller whose umask is 022 (files 0644 by default) writes every file and
directory of its data directory private to its user (umask 077, as bitcoind); and the web UI's
login link, which carries a full-RPC credential, is in no file of the data directory (debug.log
included): it is printed on a console, or returned by `cheese-cli webui`.

Run: python3 local_files_test.py --build-dir <cmake build dir>
"""

import os
import stat

import framework
from framework import assert_equal, assert_true


def test_data_directory_is_private_and_holds_no_web_token(t):
    old = os.umask(0o022)
    try:
        node = t.node(listen=True)
    finally:
        os.umask(old)
    node.rpc("createwallet", "alice")
    address = node.wallet("alice").getnewaddress()
    node.rpc("generatetoaddress", 2, address)
    token = node.rpc("webui")["url"].split("#token=")[1]
    assert_true(len(token) == 64, "the web UI token")
    node.stop()  # writes peers.json and the rest at shutdown
    checked = 0
    for root, dirs, files in os.walk(node.datadir):
        for name in dirs + files:
            path = os.path.join(root, name)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            assert_equal(mode & 0o077, 0, f"group/other permission bits of {path} (mode {mode:o})")
            if name in files:
                with open(path, "rb") as f:
                    assert_true(token.encode() not in f.read(), f"{path} holds the web UI token")
            checked += 1
    mode = stat.S_IMODE(os.lstat(node.datadir).st_mode)
    assert_equal(mode & 0o077, 0, f"the network data directory (mode {mode:o})")
    assert_true(checked >= 5, f"files checked: {checked}")
    with open(node.debug_log, encoding="utf-8", errors="replace") as f:
        assert_true("cheese-cli webui" in f.read(), "debug.log says where the login link is")


if __name__ == "__main__":
    framework.main([test_data_directory_is_private_and_holds_no_web_token])
