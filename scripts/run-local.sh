#!/usr/bin/env bash
# `make run`: starts what exists of the product locally. Today that is the benchmark of the
# ledger and hashing paths; once cheesed exists this starts a tracker and a regtest node.
set -euo pipefail
build=${1:-build}
if [[ -x "$build/daemon/cheesed" ]]; then
  exec "$build/daemon/cheesed" -regtest -printtoconsole
fi
echo "cheesed is not built yet; running cheese-bench instead"
exec "$build/bench/cheese-bench" all --blocks 200
