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
echo "=== tests/c under valgrind (a shim swapping pMethods above and below walguard; the WAL-reset race;"
echo "    two copies of the library; a host built from SQLite 3.31.1, the floor)"
mkdir -p build
gcc -Wall -O1 -o build/shims tests/c/shims.c -lsqlite3
gcc -Wall -O1 -o build/walreset tests/c/walreset.c -lsqlite3
gcc -Wall -O1 -o build/twocopies tests/c/twocopies.c -lsqlite3
floor=$(scripts/old-sqlite.sh 3.31.1)
gcc -O1 -w -DSQLITE_ENABLE_DBPAGE_VTAB -I"$floor" -o build/oldhost-memcheck tests/c/oldhost.c "$floor/sqlite3.c" -ldl -lpthread -lm
for run in "shims above" "shims below" "walreset intact" "twocopies" "oldhost-memcheck"; do
  read -r program mode <<<"$run"
  work=$(mktemp -d)
  # shellcheck disable=SC2086 # $mode is one word or none
  "${vg[@]}" "build/$program" "$PWD/libwalguard.so" "$work" $mode >/dev/null || { echo "valgrind: build/$program $mode failed"; status=1; }
  rm -rf "$work"
done
[ "$status" -eq 0 ] && echo "memcheck: clean" || echo "memcheck: FAILED"
exit "$status"
