#!/usr/bin/env bash
# Fetches Debian's source package of sqlite3 (the whole SQLite tree: test/*.test,
# speedtest1.c, tool/) into .deps/sqlite-src, once. The deb-src entry is derived from the
# machine's own apt sources (same URIs, Types: deb-src); no host is written here.
# Prints the path of the unpacked tree.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.deps/sqlite-src
tree=$(ls -d "$dest"/sqlite3-*/ 2>/dev/null | head -n 1 || true)
if [ -n "$tree" ] && [ -f "$tree/test/tester.tcl" ]; then
  realpath "$tree"; exit 0
fi
sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
src_list=/etc/apt/sources.list.d/walguard-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  base=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v walguard | head -n 1 || true)
  if [ -n "$base" ]; then
    sed 's/^Types: deb$/Types: deb-src/' "$base" | $sudo tee "$src_list" >/dev/null
  else
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | $sudo tee /etc/apt/sources.list.d/walguard-deb-src.list >/dev/null
  fi
  $sudo apt-get update -qq >&2
fi
command -v dpkg-source >/dev/null || scripts/ensure-deps.sh dpkg-dev >&2
mkdir -p "$dest"
(cd "$dest" && apt-get source -qq sqlite3 >&2)
realpath "$(ls -d "$dest"/sqlite3-*/ | head -n 1)"
