#!/usr/bin/env bash
# valgrind memcheck over the shell scripts (system SQLite + walguard) and the Rust host tests
# (bundled SQLite + walguard, the adopted-file tests included) and the C tests of other shims
# and of the WAL-reset race. Any invalid access or definite leak fails the run.
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
echo "=== tests/c under valgrind (a shim swapping pMethods above and below walguard; the WAL-reset race)"
mkdir -p build
gcc -Wall -O1 -o build/shims tests/c/shims.c -lsqlite3
gcc -Wall -O1 -o build/walreset tests/c/walreset.c -lsqlite3
work=$(mktemp -d)
"${vg[@]}" build/shims "$PWD/libwalguard.so" "$work" above >/dev/null || status=1
"${vg[@]}" build/shims "$PWD/libwalguard.so" "$work" below >/dev/null || status=1
"${vg[@]}" build/walreset "$PWD/libwalguard.so" "$work" intact >/dev/null || status=1
rm -rf "$work"
[ "$status" -eq 0 ] && echo "memcheck: clean" || echo "memcheck: FAILED"
exit "$status"
