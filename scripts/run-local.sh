#!/usr/bin/env bash
# `make run`: a local cheese-tracker and a regtest cheesed (data in ./run-data), until Ctrl-C.
set -euo pipefail
build=${1:-build}
data=${CHEESE_RUN_DATA:-$PWD/run-data}
mkdir -p "$data"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "Stopped. Data stays in $data"
}
trap cleanup INT TERM EXIT

if [[ -x "$build/tracker/cheese-tracker" ]]; then
  "$build/tracker/cheese-tracker" -port=9999 >"$data/tracker.log" 2>&1 &
  pids+=($!)
  echo "cheese-tracker listening on 127.0.0.1:9999 (log: $data/tracker.log)"
fi
"$build/daemon/cheesed" -regtest -datadir="$data" -printtoconsole &
pids+=($!)
cli="$build/cli/cheese-cli -regtest -datadir=$data"
sleep 1
cat <<MSG

cheesed is running on regtest (data directory $data/regtest).
Open the web wallet and explorer at the "Web UI:" address above, or from another terminal:
  $cli -rpcwait getblockchaininfo
  $cli createwallet alice        (prints the recovery phrase once)
  $cli mine 11                   (rewards mature after 10 blocks)
  $cli getbalances
  $cli webui                     (the web UI address again)
  $cli help
Press Ctrl-C to stop the node and the tracker.

MSG
wait "${pids[@]}"
