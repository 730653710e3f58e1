#!/usr/bin/env bash
# Builds SQLite's testfixture (the Tcl interpreter SQLite's own tests run in) from Debian's
# source of the system SQLite, into .deps/sqlite-build, once (again when the options below
# change). Prints its path.
# --enable-all (FTS4, FTS5, R-Tree and sessions, which Debian's library has too, and Geopoly)
# makes the veryquick set's files under ext/ run instead of skipping; SQLITE_ENABLE_UNLOCK_NOTIFY
# (also Debian's) the notify*.test files. tests/sqlite-suite/child_init.c, linked in as
# SQLITE_EXTRA_INIT, loads walguard into the testfixture processes a test file starts, when
# run-one.tcl asks for it through the environment (see that file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh sqlite-build >&2
src=$(scripts/sqlite-source.sh)
build=$PWD/.deps/sqlite-build
init=$PWD/tests/sqlite-suite/child_init.c
options=(--with-tcl=/usr/lib/tcl8.6 --enable-load-extension --enable-all
         "CFLAGS=-g -O2 -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_EXTRA_INIT=walguard_suite_init")
stamp="${options[*]} $(sha256sum "$init" | cut -c1-16)"
if [ ! -x "$build/testfixture" ] || [ "$(cat "$build/walguard-options" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$build"
  mkdir -p "$build"
  echo "building testfixture in $build (about a minute; output in $build/build.log)" >&2
  if ! (cd "$build" && "$src/configure" "${options[@]}" && make -j2 testfixture "LIBS=$init") >"$build/../sqlite-build.log" 2>&1; then
    tail -n 40 "$build/../sqlite-build.log" >&2
    exit 1
  fi
  mv "$build/../sqlite-build.log" "$build/build.log"
  echo "$stamp" >"$build/walguard-options"
fi
echo "$build/testfixture"
