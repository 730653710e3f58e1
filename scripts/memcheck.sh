#!/usr/bin/env bash
# valgrind memcheck over the shell scripts (system SQLite + walguard) and the Rust host tests
# (bundled SQLite + walguard, the adopted-file tests included). Any invalid access or
# definite leak fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || scripts/ensure-deps.sh valgrind
vg=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --suppressions="$PWD/scripts/valgrind.supp")
status=0
echo "=== sql-tests under valgrind"
SQLITE3="${vg[*]} sqlite3" sql-tests/run.sh "$PWD/libwalguard.so" || status=1
mapfile -t binaries < <(WALGUARD_LIB="$PWD/libwalguard.so" cargo test -p walguard-host-tests --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')
for bin in "${binaries[@]}"; do
  echo "=== $(basename "$bin") under valgrind"
  WALGUARD_LIB="$PWD/libwalguard.so" "${vg[@]}" "$bin" --test-threads=1 -q || status=1
done
[ "$status" -eq 0 ] && echo "memcheck: clean" || echo "memcheck: FAILED"
exit "$status"
