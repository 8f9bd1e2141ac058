"""Wallet secrets leave the node's memory when the wallet locks (issue 18).

An encrypted wallet is created with a known passphrase, unlocked, funded and made to send (so its
keys are derived and one signs), then locked. The test then reads the whole live memory of the
cheesed process (/proc/PID/maps + /proc/PID/mem, as root or as the same user with ptrace
permission) and asserts that none of these is anywhere in it:

- the passphrase (and the one it replaced by walletpassphrasechange),
- the 24-word recovery phrase, its 256-bit entropy and its 512-bit BIP-39 seed,
- the SLIP-0010 account node m/44'/1'/0'/0' and the private key of the address that signed.

The keys are computed here from the phrase that createwallet returned (BIP-39, SLIP-0010), and
the signing key is checked against the wallet's address, so the test looks for the right bytes.
The scan is shown able to fail: while the wallet is unlocked the same scan must find the entropy
and the account node (the node holds them then, in guarded memory). Run against a build from
before this change, the locked scan finds the passphrases (docs/wallet.md, "Secrets in memory").

When the memory of the process cannot be read (no ptrace permission), the test says SKIP and exits
77 (ctest reports it skipped).

Run: python3 wallet_memory_test.py --build-dir <cmake build dir>
"""

import hashlib
import hmac
import os
import re
import secrets
import sys

import framework
import p2p_util as u
from framework import TestFailure, assert_equal, assert_true, wait_until

try:
    from mnemonic import Mnemonic
except ImportError:  # Debian's python3-mnemonic, when the tests run under another Python
    sys.path.append("/usr/lib/python3/dist-packages")
    from mnemonic import Mnemonic

MATURITY = 10  # regtest coinbase maturity
HARDENED = 0x8000_0000
COIN_TYPE_TEST = 1  # SLIP-0044 "Testnet (all coins)": test and regtest
SKIP_CODE = 77
FRAGMENT = 16
# PROT_NONE mappings larger than this are address-space reservations (malloc arenas, thread stack
# guards) that never held data; libsodium's guarded buffers are a few pages and are read.
MAX_NOACCESS_REGION = 1 << 20
SKIPPED_PSEUDO = ("[vvar]", "[vsyscall]", "[vdso]", "[vvar_vclock]")


# --- BIP-39 / SLIP-0010 (docs/wallet.md) ------------------------------------------------------

def slip10_master(seed):
    i = hmac.new(b"ed25519 seed", seed, hashlib.sha512).digest()
    return i[:32], i[32:]


def slip10_child(key, chain_code, index):
    data = b"\x00" + key + (index | HARDENED).to_bytes(4, "big")
    i = hmac.new(chain_code, data, hashlib.sha512).digest()
    return i[:32], i[32:]


def wallet_secrets(phrase):
    """The secrets behind a cheesechain regtest wallet's recovery phrase."""
    entropy = bytes(Mnemonic("english").to_entropy(phrase))
    seed = hashlib.pbkdf2_hmac("sha512", phrase.encode(), b"mnemonic", 2048)
    key, chain = slip10_master(seed)
    for index in (44, COIN_TYPE_TEST, 0, 0):
        key, chain = slip10_child(key, chain, index)
    return {"entropy": entropy, "bip39 seed": seed, "account node key": key, "account node chain code": chain}


def address_key(account_key, account_chain, index):
    key, _ = slip10_child(account_key, account_chain, index)
    return key


# --- reading the process ----------------------------------------------------------------------

class CannotRead(Exception):
    pass


def memory_regions(pid):
    """(start, end, perms, name) of every mapping worth reading: anonymous memory (heap, stacks,
    mmap) and every writable mapping; read-only file mappings cannot hold a secret."""
    out = []
    with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)", line)
            if not m:
                continue
            start, end, perms, name = int(m[1], 16), int(m[2], 16), m[3], m[4].strip()
            if name in SKIPPED_PSEUDO:
                continue
            if name.startswith("/") and "w" not in perms:
                continue
            if perms.startswith("---") and end - start > MAX_NOACCESS_REGION:
                continue
            out.append((start, end, perms, name))
    return out


def read_memory(pid):
    """The bytes of every region (read through /proc/PID/mem, which also reads pages libsodium
    has made inaccessible to the process itself). Raises CannotRead without ptrace permission."""
    chunks = []
    try:
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except PermissionError as e:
        raise CannotRead(str(e)) from e
    with mem:
        for start, end, _, _ in memory_regions(pid):
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except PermissionError as e:
                raise CannotRead(str(e)) from e
            except (OSError, ValueError, OverflowError):
                continue  # a region unmapped meanwhile, or one the kernel refuses (I/O error)
    total = sum(len(c) for c in chunks)
    if total == 0:
        raise CannotRead("no region of the process could be read")
    return chunks, total


def fragments(secret):
    """The secret and its 16-byte windows (step 8): a freed copy whose first bytes the allocator
    overwrote with its list pointers is still found. 16 random bytes (or 16 random hex digits,
    64 bits) match nothing else in a process by chance."""
    out = {secret}
    for i in range(0, max(len(secret) - FRAGMENT + 1, 1), FRAGMENT // 2):
        out.add(secret[i:i + FRAGMENT])
    return out


def find_secrets(pid, needles):
    """Names of the needles found (whole or a fragment) anywhere in the process's memory, and the
    number of bytes read."""
    chunks, total = read_memory(pid)
    found = set()
    for name, needle in needles.items():
        if any(f in chunk for f in fragments(needle) for chunk in chunks):
            found.add(name)
    return found, total


def can_read_memory(pid):
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            start = memory_regions(pid)[0][0]
            mem.seek(start)
            mem.read(16)
        return True, ""
    except (OSError, CannotRead, IndexError) as e:
        return False, str(e)


# --- the test ---------------------------------------------------------------------------------

def test_locked_wallet_leaves_no_secret_in_memory(t):
    node = t.node()
    pid = node.process.pid
    ok, why = can_read_memory(pid)
    if not ok:
        print(f"SKIP: cannot read the memory of cheesed (pid {pid}): {why}. Run as root or as the same user "
              "with ptrace permission (kernel.yama.ptrace_scope 0 or 1 with this test as the parent).")
        node.stop()
        sys.exit(SKIP_CODE)
    # Random (hex) parts only: every 16-character window of them is a needle.
    first_pass = secrets.token_hex(16)
    old_pass = secrets.token_hex(16)
    passphrase = secrets.token_hex(16)
    created = node.rpc("createwallet", "vault", first_pass)
    assert_true(created["encrypted"], "created encrypted")
    phrase = created["mnemonic"]
    s = wallet_secrets(phrase)
    w = node.wallet("vault")
    w.walletpassphrasechange(first_pass, old_pass)
    w.walletpassphrase(old_pass, 600)
    addr = w.getnewaddress()
    # The key of the first address, checked against the address the wallet gave.
    signing_key = address_key(s["account node key"], s["account node chain code"], 0)
    assert_equal(u.bech32m_encode("rchz", u.ed25519_public_key(signing_key)), addr,
                 "the key computed from the phrase is the wallet's first address")
    node.rpc("generatetoaddress", MATURITY + 2, addr)
    dest = u.Key("wallet memory test recipient").address
    sent = w.send(dest, "1")
    assert_equal(node.rpc("getrawtransaction", sent["txid"], True)["nonce"], 0, "signed by the first address")

    # The passphrase changes just before the lock, so its copies are fresh.
    w.walletpassphrasechange(old_pass, passphrase)
    w.walletpassphrase(passphrase, 600)
    needles = {
        "passphrase": passphrase.encode(),
        "replaced passphrase": old_pass.encode(),
        "first passphrase": first_pass.encode(),
        "recovery phrase": phrase.encode(),
        "first 4 words of the phrase": " ".join(phrase.split()[:4]).encode(),
        "entropy": s["entropy"],
        "bip39 seed": s["bip39 seed"],
        "account node key": s["account node key"],
        "signing key": signing_key,
    }
    # The scan can fail: the unlocked wallet holds its entropy and account node in memory.
    found, total = find_secrets(pid, needles)
    print(f"unlocked: read {total >> 20} MiB, found {sorted(found)}")
    for name in ("entropy", "account node key"):
        assert_true(name in found, f"the scan finds the {name} while the wallet is unlocked (scanner works)")

    w.walletlock()
    assert_equal(w.getwalletinfo()["unlocked_until"], 0)
    found, total = find_secrets(pid, needles)
    print(f"locked: read {total >> 20} MiB, found {sorted(found)}")
    if found:
        raise TestFailure(f"after walletlock the process memory still holds: {', '.join(sorted(found))}")
    # The relock timer wipes as walletlock does; the wallet still unlocks and signs.
    w.walletpassphrase(passphrase, 2)
    w.send(dest, "1")
    wait_until(lambda: w.getwalletinfo()["unlocked_until"] == 0, timeout=15, what="relock after 2 s")
    found, total = find_secrets(pid, needles)
    print(f"relocked by the timeout: read {total >> 20} MiB, found {sorted(found)}")
    if found:
        raise TestFailure(f"after the unlock timeout the process memory still holds: {', '.join(sorted(found))}")


if __name__ == "__main__":
    framework.main([test_locked_wallet_leaves_no_secret_in_memory])
