#!/usr/bin/env bash
# Runs the browser tests of the web UI (ctest calls this): installs the npm packages when they
# are missing (npm ci: exact versions from package-lock.json; works offline from a warm cache),
# then drives Debian's Chromium with playwright-core. Never downloads a browser.
# Usage: tests/web/run.sh <cmake build dir>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build_dir="$(cd "${1:?usage: run.sh <build dir>}" && pwd)"
skip=77  # ctest SKIP_RETURN_CODE

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || missing+=(chromium)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "web UI browser tests need the Debian packages: ${missing[*]} (scripts/install-deps.sh installs them)"
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "SKIPPED"
  exit $skip
fi

cd "$here"
want="$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')"
have="$(node -e 'try{console.log(require("./node_modules/playwright-core/package.json").version)}catch{console.log("")}')"
if [[ "$want" != "$have" ]]; then
  echo "npm ci (playwright-core $want)"
  # Never a browser download, even if a future version of the package tried.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline
fi
export CHEESE_BUILD_DIR="$build_dir"
exec node --test --test-concurrency=1 --test-reporter=spec webui.test.mjs
