#!/usr/bin/env bash
# Installs what `make release` needs, only when it is missing, and prints the directory to put
# first on PATH (the venv's bin: cargo-zigbuild, and python3 with ziglang, which cargo-zigbuild
# runs as `python3 -m ziglang` when no `zig` is on PATH).
#   - rustup's aarch64-unknown-linux-gnu standard library;
#   - a venv in .deps/release with zig (PyPI's ziglang), cargo-zigbuild (its PyPI wheel, the
#     same program `cargo install cargo-zigbuild` builds, without compiling it here) and
#     auditwheel, at pinned versions;
#   - libclang (bindgen) through scripts/ensure-deps.sh;
#   - qemu-user-static (apt) for `make test-release`, with `test` as argument.
set -euo pipefail
cd "$(dirname "$0")/.."
ZIGLANG=0.17.1 CARGO_ZIGBUILD=0.24.1 AUDITWHEEL=6.8.2
scripts/ensure-deps.sh build >&2
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "installing: rustup target aarch64-unknown-linux-gnu" >&2
  rustup target add aarch64-unknown-linux-gnu >&2
fi
venv=$PWD/.deps/release
stamp="$venv/.installed-$ZIGLANG-$CARGO_ZIGBUILD-$AUDITWHEEL"
if [ ! -e "$stamp" ]; then
  echo "installing: ziglang $ZIGLANG, cargo-zigbuild $CARGO_ZIGBUILD, auditwheel $AUDITWHEEL into .deps/release" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "ziglang==$ZIGLANG" "cargo-zigbuild==$CARGO_ZIGBUILD" \
    "auditwheel==$AUDITWHEEL" >&2
  touch "$stamp"
fi
if [ "${1:-}" = test ] && ! command -v qemu-aarch64-static >/dev/null; then
  scripts/ensure-deps.sh qemu-user >&2
fi
echo "$venv/bin"
