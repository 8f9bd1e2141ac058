"""Per-credential RPC method allow-lists (issue 18): -rpcwhitelist / -rpcwhitelistdefault as in
bitcoind, and the web UI token, which may call only the methods the web UI's pages call.

A refused call gets HTTP 403 with a JSON-RPC error (-32601, "Forbidden: ...") and changes
nothing; a batch is checked entry by entry (HTTP 200 unless every entry was refused). Malformed
options stop cheesed at start with a clear error.

Run: python3 rpc_whitelist_test.py --build-dir <cmake build dir>
"""

import signal
import time

import framework
from framework import assert_equal, assert_in, assert_raises_rpc, assert_true

FORBIDDEN = -32601
# A refused call is refused before its parameters are read: any text will do as the address.
MINER = "rchz1notchecked"


def start_unready(t, extra_args, **kw):
    """A node whose cookie may not call getblockcount: started without the framework's readiness
    check; returns once it answers HTTP (with a 403)."""
    node = t.node(extra_args, start=False, **kw)
    node.start(wait=False)
    framework.wait_until(lambda: _answers(node), timeout=framework.START_TIMEOUT, what="cheesed to answer HTTP")
    node.auth = (node.rpcuser, node.rpcpassword) if node.rpcuser is not None else node.read_cookie()
    return node


def _answers(node):
    if node.process.poll() is not None:
        raise framework.TestFailure(f"cheesed exited with {node.process.returncode}: {node.stderr_text()[-2000:]}")
    try:
        node.auth = (node.rpcuser, node.rpcpassword) if node.rpcuser is not None else node.read_cookie()
        status, _ = node.post_json({"jsonrpc": "2.0", "id": 0, "method": "getblockcount"})
        return status in (200, 403)
    except OSError:
        return False


def terminate(node):
    """Stops a node that may not call `stop`."""
    node.process.send_signal(signal.SIGTERM)
    assert_equal(node.wait_exit(), 0, "exit code after SIGTERM")


def call(node, method, params=None, auth=True):
    """(HTTP status, reply) of one JSON-RPC 2.0 call."""
    return node.post_json({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, auth=auth)


def assert_forbidden(status, reply, method, what):
    assert_equal(status, 403, f"{what}: HTTP status")
    assert_equal(reply["error"]["code"], FORBIDDEN, f"{what}: error code")
    assert_in("Forbidden", reply["error"]["message"], what)
    assert_in(method, reply["error"]["message"], what)


def test_web_token_cannot_stop(t):
    node = t.node()
    token = node.rpc("webui")["url"].split("#token=")[1]
    bearer = f"Bearer {token}"
    status, reply = call(node, "stop", auth=bearer)
    assert_forbidden(status, reply, "stop", "stop with the web UI token")
    for method, params in [("webui", []), ("generatetoaddress", [1, MINER]), ("setban", ["10.0.0.1", "add"]),
                           ("help", [])]:
        status, reply = call(node, method, params, auth=bearer)
        assert_forbidden(status, reply, method, f"{method} with the web UI token")
    # Nothing happened: the node is up, no block was mined, no ban was set.
    time.sleep(0.3)  # a `stop` that ran closes the port 50 ms after its reply
    assert_true(node.running(), "the node is still running")
    assert_equal(node.rpc("getblockcount"), 0)
    assert_equal(node.rpc("listbanned"), [])
    # What the pages call works with the token.
    status, reply = call(node, "getblockchaininfo", auth=bearer)
    assert_equal(status, 200)
    assert_equal(reply["result"]["blocks"], 0)
    assert_in("may not call", open(node.debug_log, encoding="utf-8").read())


def test_listed_user_calls_only_its_methods(t):
    node = t.node(["-rpcwhitelist=alice:getblockcount,getblockhash,stop,getpeerinfo,validateaddress",
                   "-rpcwhitelist=alice:getblockcount getblockhash stop validateaddress help"],
                  rpcuser="alice", rpcpassword="s3cret")
    assert_equal(node.rpc("getblockcount"), 0)
    assert_equal(len(node.rpc("getblockhash", 0)), 64)
    # getpeerinfo and help are each on one line only: the two lines intersect.
    for method in ["getpeerinfo", "help", "generatetoaddress", "getblock", "webui"]:
        assert_raises_rpc(FORBIDDEN, "Forbidden", node.rpc, method)
    status, reply = call(node, "generatetoaddress", [1, MINER])
    assert_forbidden(status, reply, "generatetoaddress", "generatetoaddress by alice")
    assert_equal(node.rpc("getblockcount"), 0, "nothing was mined")
    # cheese-cli shows the node's message and fails.
    rc, _, err = node.cli("getpeerinfo")
    assert_true(rc != 0, "cheese-cli fails on a refused method")
    assert_in("Forbidden", err)
    rc, out, _ = node.cli("getblockcount")
    assert_equal((rc, out.strip()), (0, "0"))
    log = open(node.debug_log, encoding="utf-8").read()
    assert_in("RPC user alice may not call getpeerinfo", log)


def test_cookie_user_and_whitelistdefault(t):
    # A list for the cookie's user.
    node = t.node(["-rpcwhitelist=__cookie__:getblockcount,stop"])
    assert_raises_rpc(FORBIDDEN, "getbestblockhash", node.rpc, "getbestblockhash")
    node.stop()

    # A list for another user only: the cookie user has none, so with the default it may call nothing.
    node = start_unready(t, ["-rpcwhitelist=alice:getblockcount"])
    for method in ["getblockcount", "stop", "help"]:
        status, reply = call(node, method)
        assert_forbidden(status, reply, method, f"{method} by the cookie with -rpcwhitelist for alice only")
    assert_true(node.running(), "stop was refused")
    assert_in("-rpcwhitelist for alice has no effect: the only RPC user is __cookie__",
              open(node.debug_log, encoding="utf-8").read())
    terminate(node)

    # ... and with -rpcwhitelistdefault=0 it may call everything.
    node = t.node(["-rpcwhitelist=alice:getblockcount", "-rpcwhitelistdefault=0"])
    assert_equal(node.rpc("getbestblockhash"), node.rpc("getblockhash", 0))
    node.stop()

    # -rpcwhitelistdefault=1 without any list: nobody but the web token may call anything.
    node = start_unready(t, ["-rpcwhitelistdefault=1"])
    status, reply = call(node, "getblockcount")
    assert_forbidden(status, reply, "getblockcount", "-rpcwhitelistdefault=1 alone")
    terminate(node)

    # -rpcwhitelistdefault=1 with a list for the user: that list.
    node = t.node(["-rpcwhitelistdefault=1", "-rpcwhitelist=bob:getblockcount,stop"], rpcuser="bob",
                  rpcpassword="pw")
    assert_raises_rpc(FORBIDDEN, "help", node.rpc, "help")
    node.stop()


def test_batch_is_checked_per_entry(t):
    node = t.node(["-rpcwhitelist=__cookie__:getblockcount,getblockhash,stop"])
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"},
        {"jsonrpc": "2.0", "id": 2, "method": "generatetoaddress", "params": [1, MINER]},
        {"jsonrpc": "2.0", "id": 3, "method": "getblockhash", "params": [0]},
        {"jsonrpc": "2.0", "method": "setban", "params": ["10.0.0.1", "add"]},  # refused: still answered
    ]
    status, reply = node.post_json(batch)
    assert_equal(status, 200, "a mixed batch gets HTTP 200")
    assert_equal(len(reply), 4)
    assert_equal(reply[0]["result"], 0)
    assert_equal(reply[1]["error"]["code"], FORBIDDEN)
    assert_equal(reply[1]["id"], 2)
    assert_equal(len(reply[2]["result"]), 64)
    assert_equal(reply[3]["error"]["code"], FORBIDDEN)
    assert_equal(reply[3]["id"], None)
    assert_equal(node.rpc("getblockcount"), 0, "the refused entry mined nothing")
    assert_equal(node.rpc("getblockhash", 0), reply[2]["result"])
    # Every entry refused: HTTP 403, one error each.
    status, reply = node.post_json([batch[1], batch[3]])
    assert_equal(status, 403, "a batch of refused entries only")
    assert_equal([r["error"]["code"] for r in reply], [FORBIDDEN, FORBIDDEN])


def test_bad_options_stop_the_start(t):
    cases = [
        (["-rpcwhitelist=alice"], "invalid -rpcwhitelist=alice: use <user>:<method>"),
        (["-rpcwhitelist=:getblockcount"], "the user name before ':' is empty"),
        (["-rpcwhitelist=alice:getblockcount,getblokcount"], "names getblokcount, which is no RPC method"),
        (["-rpcwhitelist=alice:getblockcount", "-rpcwhitelist=alice:nosuch"], "names nosuch"),
        (["-rpcwhitelistdefault=maybe"], "rpcwhitelistdefault"),
    ]
    for args, message in cases:
        node = t.node(args, start=False)
        node.start(wait=False)
        rc = node.wait_exit()
        assert_equal(rc, 1, f"exit code with {args}")
        assert_in(message, node.stderr_text(), f"stderr with {args}")


if __name__ == "__main__":
    framework.main([test_web_token_cannot_stop, test_listed_user_calls_only_its_methods,
                    test_cookie_user_and_whitelistdefault, test_batch_is_checked_per_entry,
                    test_bad_options_stop_the_start])
