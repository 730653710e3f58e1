#!/usr/bin/env bash
# Builds SQLite's testfixture (the Tcl interpreter SQLite's own tests run in) from Debian's
# source of the system SQLite, into .deps/sqlite-build, once. Prints its path.
# --enable-all (FTS4, FTS5, R-Tree and sessions, which Debian's library has too, and
# Geopoly) is what makes the veryquick set's files under ext/ run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh sqlite-build >&2
src=$(scripts/sqlite-source.sh)
build=$PWD/.deps/sqlite-build
options="--with-tcl=/usr/lib/tcl8.6 --enable-load-extension --enable-all"
if [ ! -x "$build/testfixture" ] || [ "$(cat "$build/walguard-options" 2>/dev/null)" != "$options" ]; then
  rm -rf "$build"
  mkdir -p "$build"
  # shellcheck disable=SC2086
  (cd "$build" && "$src/configure" $options >&2 && make -j2 testfixture >&2)
  echo "$options" >"$build/walguard-options"
fi
echo "$build/testfixture"
