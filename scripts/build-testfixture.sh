#!/usr/bin/env bash
# Builds SQLite's testfixture (the Tcl interpreter SQLite's own tests run in) from Debian's
# source of the system SQLite, into .deps/sqlite-build, once. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh sqlite-build >&2
src=$(scripts/sqlite-source.sh)
build=$PWD/.deps/sqlite-build
if [ ! -x "$build/testfixture" ]; then
  mkdir -p "$build"
  (cd "$build" && "$src/configure" --with-tcl=/usr/lib/tcl8.6 --enable-load-extension >&2 &&
     make -j2 testfixture >&2)
fi
echo "$build/testfixture"
