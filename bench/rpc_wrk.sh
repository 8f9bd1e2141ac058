#!/usr/bin/env bash
# Requests per second and latency of `getblockcount` with keep-alive under wrk, 1/16/64
# connections, on loopback (docs/performance.md). Usage: bench/rpc_wrk.sh [build-dir]
set -euo pipefail
build=${1:-build}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$build/daemon/cheesed" -regtest -notracker -listen=0 -datadir="$dir" -rpcport=$port >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [[ -f "$dir/regtest/.cookie" ]] && break; sleep 0.05; done
auth=$(base64 -w0 < "$dir/regtest/.cookie")
lua=$(mktemp)
cat > "$lua" <<LUA
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"getblockcount"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic $auth"
LUA
for c in 1 16 64; do
  echo "== $c connection(s)"
  wrk -t $(( c < 2 ? 1 : 2 )) -c $c -d 10s --latency -s "$lua" "http://127.0.0.1:$port/" | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
done
rm -f "$lua"
