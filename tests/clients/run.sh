#!/usr/bin/env bash
# Runs the client snippets of the docs (the files in this folder, and
# tests/host/examples/readme.rs for Rust; quickstart.sh is the README's first refusal), each
# in a fresh directory holding libwalguard.so and app.db, a WAL database with t = 1, 2, 3. For each client:
#   - stdout, "--- stderr ---", stderr must equal expected/NAME.txt ($DIR for the directory);
#   - afterwards the header is still 2,2, t has 4 rows and integrity_check is ok.
# Prints a table row per client: name, SQLite version, result; and a count.
# Usage: tests/clients/run.sh [NAME...]   (default: every client)
#        CLIENTS_ACCEPT=1 tests/clients/run.sh NAME...   writes the output to expected/NAME.txt first
#        (a new client; review the file before committing it)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
deps=$root/.deps

declare -A command version
command[quickstart]="bash $here/quickstart.sh"
version[quickstart]="sqlite3 :memory: 'select sqlite_version()'"
command[shell]="bash $here/shell.sh"
version[shell]="sqlite3 :memory: 'select sqlite_version()'"
command[python]="/usr/bin/python3 $here/python_stdlib.py"
version[python]="/usr/bin/python3 -c 'import sqlite3; print(sqlite3.sqlite_version)'"
command[apsw]="$deps/venv/bin/python $here/python_apsw.py"
version[apsw]="$deps/venv/bin/python -c 'import apsw; print(apsw.sqlite_lib_version())'"
command[node]="env NODE_PATH=$deps/node/node_modules node $here/node.js"
version[node]="env NODE_PATH=$deps/node/node_modules node -e 'console.log(new (require(\"better-sqlite3\"))(\":memory:\").prepare(\"select sqlite_version()\").pluck().get())'"
command[rust]="$root/target/debug/examples/readme"
version[rust]="$root/target/debug/examples/sqlite_version"
command[tcl]="tclsh $here/tcl.tcl"
version[tcl]="echo 'package require sqlite3; sqlite3 db :memory:; puts [db eval {select sqlite_version()}]' | tclsh"

# Go: Debian's golang-github-mattn-go-sqlite3-dev is a GOPATH package; builds cached in .deps.
go_env="env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$deps/go-cache"
command[go]="$go_env go run $here/go.go"
version[go]="printf '%s\n' 'package main' 'import (\"database/sql\"; \"fmt\"; _ \"github.com/mattn/go-sqlite3\")' 'func main() { var v string; db, _ := sql.Open(\"sqlite3\", \":memory:\"); db.QueryRow(\"select sqlite_version()\").Scan(&v); fmt.Println(v) }' >v.go && $go_env go run v.go"
jdbc=/usr/share/java/sqlite-jdbc.jar
command[java]="java -cp $jdbc $here/Java.java"
version[java]="echo 'class V { public static void main(String[] a) throws Exception { System.out.println(java.sql.DriverManager.getConnection(\"jdbc:sqlite::memory:\").createStatement().executeQuery(\"select sqlite_version()\").getString(1)); } }' >V.java && java -cp $jdbc V.java"
# SQLite3::loadExtension only loads from the directory php.ini's sqlite3.extension_dir names.
command[php]="php -d sqlite3.extension_dir=\$PWD $here/php.php"
version[php]="php -r 'echo SQLite3::version()[\"versionString\"], PHP_EOL;'"
command[php_pdo]="php -d sqlite3.extension_dir=\$PWD $here/php_pdo.php"
version[php_pdo]="php -r 'echo (new PDO(\"sqlite::memory:\"))->query(\"select sqlite_version()\")->fetchColumn(), PHP_EOL;'"
command[ruby]="ruby $here/ruby.rb"
version[ruby]="ruby -rsqlite3 -e 'puts SQLite3::Database.new(\":memory:\").get_first_value(\"select sqlite_version()\")'"
command[perl]="perl $here/perl.pl"
version[perl]="perl -MDBI -e 'print DBI->connect(\"dbi:SQLite:dbname=:memory:\")->selectrow_array(\"select sqlite_version()\"), qq(\n)'"

clients=("$@")
[ ${#clients[@]} -eq 0 ] && clients=(quickstart shell python apsw node rust tcl go java php php_pdo ruby perl)
pass=0 fail=0
for name in "${clients[@]}"; do
  dir=$(mktemp -d /tmp/walguard-client.XXXXXX)
  cp "$root/libwalguard.so" "$dir/"
  sqlite3 "$dir/app.db" 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);' >/dev/null
  (cd "$dir" && eval "${command[$name]}" >"$dir/.out" 2>"$dir/.err")
  actual=$({ cat "$dir/.out"; echo "--- stderr ---"; cat "$dir/.err"; } | sed "s#$dir#\$DIR#g")
  [ "${CLIENTS_ACCEPT:-}" = 1 ] && printf '%s\n' "$actual" >"$here/expected/$name.txt"
  problems=()
  if ! diff -u "$here/expected/$name.txt" <(printf '%s\n' "$actual") >"$dir/.diff"; then
    problems+=("output differs:"$'\n'"$(cat "$dir/.diff")")
  fi
  header=$(od -An -tx1 -j18 -N2 "$dir/app.db" | tr -d ' ')
  [ "$header" = 0202 ] || problems+=("header is $header, not 0202")
  state=$(sqlite3 "$dir/app.db" 'SELECT count(*) FROM t; PRAGMA integrity_check;' | tr '\n' ' ')
  [ "$state" = "4 ok " ] || problems+=("rows and integrity: $state")
  sqlite=$(cd "$dir" && eval "${version[$name]}" 2>/dev/null)
  if [ ${#problems[@]} -eq 0 ]; then
    pass=$((pass + 1)); echo "client|$name|${sqlite:-?}|refused, WAL intact, 4 rows, checkpoint ok"
    rm -rf "$dir"
  else
    fail=$((fail + 1)); echo "client|$name|${sqlite:-?}|FAIL"
    printf '  %s\n' "${problems[@]}"
  fi
done
echo "clients: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
