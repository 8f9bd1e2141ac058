#!/usr/bin/env bash
# Formats the C++ sources with the repository's .clang-format (clang-format 14).
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  change nothing; exit 1 if any file would change
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
# Tracked sources only; skip generated or vendored code (build trees are untracked anyway).
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' | grep -Ev '(^|/)(third_party|vendor|external|generated)/|\.gen\.|_generated\.' || true)
[ ${#files[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
  status=0
  for f in "${files[@]}"; do
    if ! "$CLANG_FORMAT" --style=file "$f" | diff -q "$f" - >/dev/null; then
      echo "would reformat: $f"
      status=1
    fi
  done
  exit $status
fi
"$CLANG_FORMAT" --style=file -i "${files[@]}"
