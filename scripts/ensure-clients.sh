#!/usr/bin/env bash
# Installs the client libraries the snippet tests use, once per machine, into .deps/:
#   .deps/venv   a Python venv with APSW (bundles its own SQLite)
#   .deps/node   better-sqlite3 (bundles its own SQLite; compiled from source, ~2 minutes)
#   .deps/venv-debian   a venv on Debian's python3 (whose sqlite3 loads extensions) with
#                       pysqlite3-binary (bundles a SQLite exporting its API) and APSW
#   .deps/node-sqlite3  npm's sqlite3 (the same; compiled from source, ~80 s)
#   Debian packages: Go with mattn/go-sqlite3, a JDK with xerial sqlite-jdbc, PHP's sqlite3
#   and PDO, Ruby's sqlite3, Perl's DBD::SQLite (scripts/ensure-deps.sh clients)
set -euo pipefail
cd "$(dirname "$0")/.."
apsw_version=3.54.1.0
pysqlite3_version=0.5.4.post2
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
if ! cmp -s tests/clients/package.json .deps/node/package.json || [ ! -f "$addon" ]; then
  echo "installing better-sqlite3 into .deps/node (compiles from source)"
  command -v npm >/dev/null || scripts/ensure-deps.sh node
  rm -rf .deps/node && mkdir -p .deps/node
  cp tests/clients/package.json .deps/node/package.json
  (cd .deps/node && npm install --no-audit --no-fund --loglevel=error)
  [ -f "$addon" ] || { echo "better-sqlite3 did not build" >&2; exit 1; }
fi

if ! .deps/venv-debian/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('pysqlite3-binary') != '$pysqlite3_version' or m.version('apsw') != '$apsw_version')" 2>/dev/null; then
  echo "installing pysqlite3-binary $pysqlite3_version and APSW $apsw_version into .deps/venv-debian"
  rm -rf .deps/venv-debian
  /usr/bin/python3 -m venv .deps/venv-debian 2>/dev/null || {
    scripts/ensure-deps.sh python-venv
    /usr/bin/python3 -m venv .deps/venv-debian
  }
  .deps/venv-debian/bin/pip install -q --disable-pip-version-check "pysqlite3-binary==$pysqlite3_version" "apsw==$apsw_version"
fi

addon=.deps/node-sqlite3/node_modules/sqlite3/build/Release/node_sqlite3.node
if ! cmp -s tests/deploy/apps/package.json .deps/node-sqlite3/package.json || [ ! -f "$addon" ]; then
  echo "installing npm's sqlite3 into .deps/node-sqlite3 (compiles from source)"
  command -v npm >/dev/null || scripts/ensure-deps.sh node
  rm -rf .deps/node-sqlite3 && mkdir -p .deps/node-sqlite3
  cp tests/deploy/apps/package.json .deps/node-sqlite3/package.json
  (cd .deps/node-sqlite3 && npm install --no-audit --no-fund --loglevel=error)
  [ -f "$addon" ] || { echo "npm's sqlite3 did not build" >&2; exit 1; }
fi

scripts/ensure-deps.sh clients
