#!/usr/bin/env bash
# Runs every sql-tests/*.sql script through the system sqlite3 shell and compares its
# output with the .expected file next to it.
#
#   NAME.sql        run as `sqlite3 :memory: -cmd '.load LIB' < NAME.sql` in a fresh
#                   directory; stdout, then a "--- stderr ---" line, then stderr must equal
#                   NAME.expected, with the directory's path written as $DIR (also where
#                   sqlite3_log cut it short: it truncates messages to about 210 bytes).
#                   walguard_status()'s "build" (commit, compiler) is written as $BUILD.
#                   A first line `-- env: VAR=value ...` sets those variables for the shell.
#                   A script that mentions $LIB is not preloaded: it loads the extension
#                   itself (`.load $LIB`), at the point it chooses.
#   NAME.same.sql   run twice, with and without walguard: the two outputs must be equal
#                   (walguard changes nothing SQLite reports), and equal NAME.same.expected.
#
# Usage: sql-tests/run.sh [LIB] [--update]   (LIB defaults to ./libwalguard.so)
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib=$(realpath "${1:-$here/../libwalguard.so}")
update=${2:-}
shell=${SQLITE3:-sqlite3} # may carry a wrapper: SQLITE3="valgrind -q sqlite3"
pass=0 fail=0

run_script() { # script loadlib -> prints normalised output
  local script=$1 load=$2 dir out err vars=()
  dir=$(mktemp -d /tmp/walguard-sql.XXXXXX)
  out=$(mktemp) err=$(mktemp)
  read -r -a vars < <(sed -n '1s/^-- env: //p' "$script")
  local preload=(-cmd ".load ${lib%.so}")
  if [ "$load" != yes ] || grep -q '\$LIB' "$script"; then preload=(); fi
  sed "s#\$LIB#${lib%.so}#g" "$script" >"$dir/.script"
  (cd "$dir" && env "${vars[@]}" $shell :memory: "${preload[@]}" <.script >"$out" 2>"$err")
  { cat "$out"; echo "--- stderr ---"; cat "$err"; } | sed -e 's#/tmp/walguard-sql\.[A-Za-z0-9]*#$DIR#g' -e 's#"build":"[^"]*"#"build":"$BUILD"#g' -e "s#${lib%.so}#\$LIB#g"
  rm -rf "$dir" "$out" "$err"
}

check() { # name actual expected-file
  local name=$1 actual=$2 expected=$3
  if [ "$update" = --update ]; then printf '%s\n' "$actual" >"$expected"; fi
  if [ -f "$expected" ] && diff -u "$expected" <(printf '%s\n' "$actual") >/tmp/sql-test-diff.$$; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); echo "FAIL $name"; cat /tmp/sql-test-diff.$$ 2>/dev/null
  fi
  rm -f /tmp/sql-test-diff.$$
}

for script in "$here"/*.sql; do
  name=$(basename "$script" .sql)
  case "$name" in
    *.same)
      with=$(run_script "$script" yes)
      without=$(run_script "$script" no)
      if [ "$with" != "$without" ]; then
        fail=$((fail + 1)); echo "FAIL $name: output differs with walguard loaded"
        diff -u <(printf '%s\n' "$without") <(printf '%s\n' "$with")
        continue
      fi
      check "$name" "$with" "$here/$name.expected" ;;
    *)
      check "$name" "$(run_script "$script" yes)" "$here/$name.expected" ;;
  esac
done
echo "sql-tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
