#!/usr/bin/env bash
# Installs what `make dist` built the way a user would, each into a fresh environment, and
# proves the guard refuses a downgrade there:
#   - the wheel into a venv of Debian's python3 (stdlib sqlite3 loads extensions);
#   - the wheel and APSW into a venv of the default python3 (whose sqlite3 may not load
#     extensions: then walguard.load() must say so plainly);
#   - the npm tarball into a new project, with better-sqlite3.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d /tmp/walguard-dist.XXXXXX)
trap 'rm -rf "$work"' EXIT
wheel=$(ls dist/sqlite_walguard-*.whl)
tarball=$(ls dist/sqlite-walguard-*.tgz)
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; fi; }

make_db() { # dir -> a WAL database with 3 rows
  /usr/bin/python3 - "$1/app.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE t(x)"); c.executemany("INSERT INTO t VALUES(?)", [(1,), (2,), (3,)]); c.commit()
PY
}

stdlib_test() {
  /usr/bin/python3 -m venv "$work/debian" 2>/dev/null || { scripts/ensure-deps.sh python-venv; /usr/bin/python3 -m venv "$work/debian"; }
  "$work/debian/bin/pip" install -q --disable-pip-version-check --no-index "$wheel"
  make_db "$work"
  (cd "$work" && "$work/debian/bin/python" - <<'PY'
import sqlite3, walguard
walguard.load()
conn = sqlite3.connect("app.db")
try:
    conn.execute("PRAGMA journal_mode=DELETE")
    raise SystemExit("not refused")
except sqlite3.OperationalError as e:
    assert str(e).startswith("walguard: refused journal_mode=DELETE"), e
assert open("app.db", "rb").read(20)[18:20] == b"\x02\x02"
assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
assert conn.execute("PRAGMA walguard").fetchone() == ("enforce",)
print("wheel, Debian python3, stdlib sqlite3: refused, header 2,2, rows intact")
PY
  )
}

apsw_test() {
  python3 -m venv "$work/default"
  "$work/default/bin/pip" install -q --disable-pip-version-check "$wheel" "apsw==3.54.1.0"
  rm -f "$work"/app.db*; make_db "$work"
  (cd "$work" && "$work/default/bin/python" - <<'PY'
import sqlite3, apsw, walguard
if not hasattr(sqlite3.Connection, "enable_load_extension"):
    try:
        walguard.load()
        raise SystemExit("load() should have said the stdlib cannot load extensions")
    except RuntimeError as e:
        assert "cannot load extensions" in str(e) and "APSW" in str(e), e
        print("wheel, default python3: load() says plainly that its sqlite3 cannot load extensions")
walguard.load(apsw.Connection(":memory:"))
conn = apsw.Connection("app.db")
try:
    conn.execute("PRAGMA journal_mode=DELETE")
    raise SystemExit("not refused")
except apsw.SQLError as e:
    assert e.args[0].startswith("walguard: refused journal_mode=DELETE"), e
assert open("app.db", "rb").read(20)[18:20] == b"\x02\x02"
assert conn.execute("SELECT count(*) FROM t").get == 3
print("wheel, APSW " + apsw.sqlite_lib_version() + ": refused, header 2,2, rows intact")
PY
  )
}

npm_test() {
  mkdir -p "$work/node-project" && cd "$work/node-project"
  npm init -y >/dev/null
  npm install --no-audit --no-fund --loglevel=error "$root/$tarball" >/dev/null
  rm -f "$work"/app.db*; make_db "$work"
  (cd "$work" && NODE_PATH="$root/.deps/node/node_modules" node - <<'JS'
const Database = require("better-sqlite3");
const walguard = require(require.resolve("sqlite-walguard", { paths: [process.cwd() + "/node-project"] }));
const fs = require("fs");
if (!fs.existsSync(walguard.getLoadablePath())) throw new Error("no library at " + walguard.getLoadablePath());
walguard.load(new Database(":memory:"));
const db = new Database("app.db");
let refused = false;
try { db.pragma("journal_mode = DELETE"); } catch (e) { refused = e.message.startsWith("walguard: refused journal_mode=DELETE"); }
if (!refused) throw new Error("not refused");
const h = fs.readFileSync("app.db").subarray(18, 20);
if (h[0] !== 2 || h[1] !== 2) throw new Error("header " + h);
if (db.prepare("SELECT count(*) FROM t").pluck().get() !== 3) throw new Error("rows");
console.log("npm tarball, better-sqlite3: refused, header 2,2, rows intact");
JS
  )
  cd "$root"
}

check stdlib_test
check apsw_test
check npm_test
echo "dist: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
