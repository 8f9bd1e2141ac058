#!/usr/bin/env bash
# Installs the Debian 12 packages cheesechain builds and tests with, only those missing.
# Boost comes as the versioned 1.81 packages: the unversioned libboost-dev is 1.74 (no Boost.JSON)
# and conflicts with them.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev
  libsodium-dev libfmt-dev catch2 libsqlite3-dev sqlite3 python3 python3-mnemonic curl
  clang-format  # the "lint: clang-format" test (Debian 12: clang-format 14, which .clang-format is tuned for)
)
# `make fuzz` (CHEESE_FUZZ_DEPS=1): clang and the libFuzzer runtime of clang 14.
if [[ "${CHEESE_FUZZ_DEPS:-0}" == "1" ]]; then
  packages+=(clang libclang-rt-14-dev)  # clang: the unversioned clang++ (14 on Debian 12)
fi
if [[ "${CHEESE_WEB_TESTS:-1}" == "1" && -f "$(dirname "$0")/../tests/web/package.json" ]]; then
  packages+=(chromium)
  # Node.js may come from elsewhere than Debian (its nodejs package then provides npm and
  # conflicts with Debian's npm): install Debian's only when the commands are missing.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing Debian packages: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
