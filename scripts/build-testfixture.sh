#!/usr/bin/env bash
# Builds SQLite's testfixture (the Tcl interpreter SQLite's own tests run in) from Debian's
# source of the system SQLite, into .deps/sqlite-build, once (again when the options below
# change). Prints its path.
# --enable-all (FTS4, FTS5, R-Tree and sessions, which Debian's library has too, and Geopoly)
# makes the veryquick set's files under ext/ run instead of skipping; SQLITE_ENABLE_UNLOCK_NOTIFY
# (also Debian's) the notify*.test files.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh sqlite-build >&2
src=$(scripts/sqlite-source.sh)
build=$PWD/.deps/sqlite-build
options=(--with-tcl=/usr/lib/tcl8.6 --enable-load-extension --enable-all
         "CFLAGS=-g -O2 -DSQLITE_ENABLE_UNLOCK_NOTIFY")
if [ ! -x "$build/testfixture" ] || [ "$(cat "$build/walguard-options" 2>/dev/null)" != "${options[*]}" ]; then
  rm -rf "$build"
  mkdir -p "$build"
  (cd "$build" && "$src/configure" "${options[@]}" >&2 && make -j2 testfixture >&2)
  echo "${options[*]}" >"$build/walguard-options"
fi
echo "$build/testfixture"
