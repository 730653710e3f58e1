#!/usr/bin/env bash
# Installs the client libraries the snippet tests use, once per machine, into .deps/:
#   .deps/venv   a Python venv with APSW (bundles its own SQLite)
#   .deps/node   better-sqlite3 (bundles its own SQLite; compiled from source, ~2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
apsw_version=3.54.1.0
mkdir -p .deps

if ! .deps/venv/bin/python -c "import apsw, sys; sys.exit(apsw.apsw_version() != '$apsw_version')" 2>/dev/null; then
  echo "installing APSW $apsw_version into .deps/venv"
  rm -rf .deps/venv
  python3 -m venv .deps/venv 2>/dev/null || {
    scripts/ensure-deps.sh python-venv
    /usr/bin/python3 -m venv .deps/venv
  }
  .deps/venv/bin/pip install -q --disable-pip-version-check "apsw==$apsw_version"
fi

addon=.deps/node/node_modules/better-sqlite3/build/Release/better_sqlite3.node
if ! cmp -s clients/package.json .deps/node/package.json || [ ! -f "$addon" ]; then
  echo "installing better-sqlite3 into .deps/node (compiles from source)"
  command -v npm >/dev/null || scripts/ensure-deps.sh node
  rm -rf .deps/node && mkdir -p .deps/node
  cp clients/package.json .deps/node/package.json
  (cd .deps/node && npm install --no-audit --no-fund --loglevel=error)
  [ -f "$addon" ] || { echo "better-sqlite3 did not build" >&2; exit 1; }
fi
