#!/usr/bin/env bash
# Prints the directory of a SQLite amalgamation (sqlite3.c, sqlite3.h) of an older release,
# fetching it once into .deps/sqlite-<version>/ from the package registries that carry one:
# old libsqlite3-sys crates (crates.io, through cargo) and old better-sqlite3 tarballs (npm).
#   scripts/old-sqlite.sh 3.31.1|3.34.0|3.37.0|3.54.1
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?version}
dest=$PWD/.deps/sqlite-$version
if [ -f "$dest/sqlite3.c" ]; then echo "$dest"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
from_crate() { # libsqlite3-sys version bundling $version
  mkdir -p "$work/crate/src" && touch "$work/crate/src/lib.rs"
  printf '[package]\nname = "fetch-sqlite"\nversion = "0.0.0"\nedition = "2018"\n[dependencies]\nlibsqlite3-sys = { version = "=%s", default-features = false }\n' "$1" >"$work/crate/Cargo.toml"
  (cd "$work/crate" && CARGO_TARGET_DIR="$work/target" cargo fetch -q) >&2
  local src
  src=$(cd "$work/crate" && cargo metadata -q --format-version 1 | python3 -c '
import json, sys
meta = json.load(sys.stdin)
print(next(p["manifest_path"] for p in meta["packages"] if p["name"] == "libsqlite3-sys").rsplit("/", 1)[0])')
  mkdir -p "$work/out" && cp "$src/sqlite3/sqlite3.c" "$src/sqlite3/sqlite3.h" "$src/sqlite3/sqlite3ext.h" "$work/out/"
}
from_npm() { # better-sqlite3 version bundling $version
  (cd "$work" && npm pack -q "better-sqlite3@$1" >/dev/null 2>&1)
  tar xzf "$work"/better-sqlite3-*.tgz -C "$work" package/deps/sqlite3.tar.gz
  mkdir -p "$work/amalgamation" && tar xzf "$work/package/deps/sqlite3.tar.gz" -C "$work/amalgamation"
  mkdir -p "$work/out" && find "$work/amalgamation" \( -name sqlite3.c -o -name sqlite3.h -o -name sqlite3ext.h \) -exec cp {} "$work/out/" \;
}
case "$version" in
  3.31.1) from_crate 0.18.0 ;;
  3.34.0) command -v npm >/dev/null || scripts/ensure-deps.sh node >&2; from_npm 7.1.2 ;;
  3.37.0) from_crate 0.23.2 ;;
  3.54.1) from_crate 0.40.0 ;;
  *) echo "old-sqlite.sh: no source known for SQLite $version" >&2; exit 1 ;;
esac
got=$(sed -n 's/^#define SQLITE_VERSION  *"\(.*\)"/\1/p' "$work/out/sqlite3.h")
[ "$got" = "$version" ] || { echo "old-sqlite.sh: expected SQLite $version, the source holds $got" >&2; exit 1; }
mkdir -p "$(dirname "$dest")" && rm -rf "$dest" && mv "$work/out" "$dest"
echo "$dest"
