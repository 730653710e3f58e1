#!/usr/bin/env bash
# Deployment without touching applications: `make install`, the LD_PRELOAD library, Python's
# sitecustomize and Node's --require, each driving programs (tests/deploy/apps) that never
# mention walguard. Each must refuse the seed's "fall back to DELETE" (output, header 2,2,
# rows intact). Under the preload, bundles exporting their SQLite's API (pysqlite3-binary,
# npm's sqlite3) must be guarded through their own SQLite, bundles walguard cannot be
# loaded into must be reached untouched, and the preload must be harmless where SQLite is
# bundled with hidden symbols or absent.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/walguard-deploy.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/root
lib=$dest/usr/lib
apps=$root/tests/deploy/apps
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; printf '     %s\n' "$@"; }

fresh_db() {
  rm -rf "$work/run" && mkdir -p "$work/run"
  sqlite3 "$work/run/app.db" 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);' >/dev/null
}

# guarded NAME CMD...: CMD runs an app in a fresh directory; it must be refused.
guarded() {
  local name=$1; shift
  fresh_db
  local out; out=$(cd "$work/run" && "$@" 2>&1)
  local header; header=$(od -An -tx1 -j18 -N2 "$work/run/app.db" | tr -d ' ')
  local rows; rows=$(sqlite3 "$work/run/app.db" 'SELECT count(*) FROM t')
  if [[ $out == *"walguard: refused journal_mode=DELETE"* && $header == 0202 && $rows == 3 ]]; then ok "$name"
  else bad "$name" "output: $out" "header $header, rows $rows"; fi
}

# harmless NAME EXPECTED CMD...: CMD must succeed and print EXPECTED, walguard or not.
harmless() {
  local name=$1 expected=$2; shift 2
  fresh_db
  local out; out=$(cd "$work/run" && "$@" 2>&1); local rc=$?
  if [[ $rc == 0 && $out == "$expected" ]]; then ok "$name"; else bad "$name" "exit $rc, output: $out" "expected: $expected"; fi
}

# expect NAME SPEC... -- CMD...: CMD runs an app in a fresh directory; each SPEC is TEXT=N
# (TEXT on exactly N lines of its output) or header=HEX (bytes 18,19 of app.db afterwards).
# The 3 rows must be intact either way.
expect() {
  local name=$1; shift
  local specs=()
  while [[ $1 != -- ]]; do specs+=("$1"); shift; done
  shift
  fresh_db
  local out; out=$(cd "$work/run" && "$@" 2>&1)
  local header; header=$(od -An -tx1 -j18 -N2 "$work/run/app.db" | tr -d ' ')
  local rows; rows=$(sqlite3 "$work/run/app.db" 'SELECT count(*) FROM t')
  local wrong=() spec text n got
  [[ $rows == 3 ]] || wrong+=("rows $rows, expected 3")
  for spec in "${specs[@]}"; do
    text=${spec%=*} n=${spec##*=}
    if [[ $text == header ]]; then
      [[ $header == "$n" ]] || wrong+=("header $header, expected $n")
    else
      got=$(grep -cF -- "$text" <<<"$out")
      [[ $got == "$n" ]] || wrong+=("'$text' on $got lines, expected $n")
    fi
  done
  if ((${#wrong[@]} == 0)); then ok "$name"; else bad "$name" "${wrong[@]}" "output: $out"; fi
}

make -s -C "$root" install DESTDIR="$dest" PREFIX=/usr >/dev/null
for f in "$lib/libwalguard.so" "$lib/walguard.so" "$lib/libwalguard_preload.so" "$dest/usr/share/walguard/python/sitecustomize.py" \
  "$dest/usr/share/walguard/php/walguard.php" \
  "$dest/usr/bin/walguard-hold" "$lib/systemd/system/walguard-hold@.service"; do
  [ -e "$f" ] || bad "make install" "missing $f"
done
ok "make install puts the libraries, sitecustomize, the PHP prepend file, walguard-hold and its unit under DESTDIR/PREFIX"
if grep -qx 'ExecStart=/usr/bin/walguard-hold $WALGUARD_HOLD_ARGS %f' "$lib/systemd/system/walguard-hold@.service" \
  && "$dest/usr/bin/walguard-hold" --version | grep -q '^walguard-hold '; then
  ok "installed walguard-hold runs, and its unit starts it from PREFIX/bin"
else
  bad "installed walguard-hold" "$(grep ExecStart "$lib/systemd/system/walguard-hold@.service")"
fi

guarded "installed: .load walguard by name" env LD_LIBRARY_PATH="$lib" sqlite3 :memory: -cmd '.load walguard' -cmd '.open app.db' 'PRAGMA journal_mode=DELETE'
preload=(env LD_PRELOAD="$lib/libwalguard_preload.so")
guarded "LD_PRELOAD: sqlite3 shell" "${preload[@]}" bash "$apps/app.sh"
# The preload finds walguard registered (it answers to unix's name now): no false alarm.
harmless "LD_PRELOAD: guarded, and says nothing" enforce "${preload[@]}" sqlite3 app.db 'PRAGMA walguard'
# A typo never unguards a process: an invalid, empty or mis-cased policy gets the default and a
# warning on stderr (issue 23).
for policy in enfroce '' ENFORCE; do
  guarded "LD_PRELOAD, WALGUARD_POLICY='$policy': guarded under the default, with a warning" \
    env WALGUARD_POLICY="$policy" "${preload[@]}" bash -c "bash '$apps/app.sh' 2>&1 | grep -q \"invalid value '$policy' for WALGUARD_POLICY\" && bash '$apps/app.sh'"
  guarded "sitecustomize, WALGUARD_POLICY='$policy': guarded under the default, with a warning" \
    env WALGUARD_POLICY="$policy" PYTHONPATH="$dest/usr/share/walguard/python" bash -c "/usr/bin/python3 '$apps/app.py' 2>&1 | grep -q \"invalid value '$policy' for WALGUARD_POLICY\" && /usr/bin/python3 '$apps/app.py'"
done
guarded "LD_PRELOAD: tclsh" "${preload[@]}" tclsh "$apps/app.tcl"
guarded "LD_PRELOAD: python3, stdlib sqlite3" "${preload[@]}" /usr/bin/python3 "$apps/app.py"
guarded "sitecustomize: python3, stdlib sqlite3" env PYTHONPATH="$dest/usr/share/walguard/python" /usr/bin/python3 "$apps/app.py"
guarded "sitecustomize, WALGUARD_APSW=1: APSW beside the stdlib sqlite3 (Debian's python3)" env PYTHONPATH="$dest/usr/share/walguard/python" \
  WALGUARD_APSW=1 "$root/.deps/venv-debian/bin/python" "$apps/app_apsw_seed.py"
# sitecustomize chaining: walguard's sitecustomize shadows the interpreter's own (Debian's
# /usr/lib/python3.X/sitecustomize.py, which installs apport's hook when it is importable)
# and a venv's; it must run the one it shadows, once, and stay guarded if that one raises.
# The stand-in apport hook (apps/chain) prints a line when Debian's own sitecustomize runs.
chain=$root/tests/deploy/apps/chain
py=$dest/usr/share/walguard/python
hook=$work/apport-hook
mkdir -p "$hook" && cp "$chain/apport_python_hook.py" "$hook/"
debian_stdlib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
if [ -f "$debian_stdlib/sitecustomize.py" ]; then
  debian_sc=$debian_stdlib/sitecustomize.py
  after=$hook
else
  # No sitecustomize of Debian's here: one with Debian 12's text, on sys.path after
  # PYTHONPATH as Debian's stdlib directory is.
  debian_sc=$work/debian-stdlib/sitecustomize.py
  mkdir -p "$work/debian-stdlib"
  printf '%s\n' '# install the apport exception handler if available' 'try:' '    import apport_python_hook' \
    'except ImportError:' '    pass' 'else:' '    apport_python_hook.install()' >"$debian_sc"
  after=$hook:$work/debian-stdlib
fi
echo "     (Debian's sitecustomize: $debian_sc)"
refused="walguard: refused journal_mode=DELETE"
apport="apport hook installed by Debian's sitecustomize"
venv_ran="the venv's sitecustomize ran"
app_ran="the application's sitecustomize ran"
errors="walguard sitecustomize:"
expect "control: without walguard, Debian's python3 runs Debian's sitecustomize" "$apport=1" "$refused=0" header=0101 -- \
  env PYTHONPATH="$after" /usr/bin/python3 "$apps/app.py"
expect "sitecustomize: Debian's own sitecustomize runs too, once" "$apport=1" "$refused=1" "$errors=0" header=0202 -- \
  env PYTHONPATH="$py:$after" /usr/bin/python3 "$apps/app.py"
expect "sitecustomize: Debian's module stands as sitecustomize, walguard's names it" "$apport=1" \
  "sys.modules['sitecustomize'] is $debian_sc=1" "walguard's ran: True and ran $debian_sc=1" "$errors=0" header=0202 -- \
  env PYTHONPATH="$py:$after" /usr/bin/python3 "$chain/show_sitecustomize.py"
expect "sitecustomize: what Debian's sitecustomize runs is guarded (it runs after walguard is loaded)" "$apport=1" \
  "the hook's fallback: $refused=1" "$refused=2" "$errors=0" header=0202 -- \
  env CHAIN_DOWNGRADE=1 PYTHONPATH="$py:$after" /usr/bin/python3 "$apps/app.py"
expect "sitecustomize: Debian's sitecustomize raises: reported, still guarded" "$apport=1" "$refused=1" \
  "$errors error in $debian_sc, the sitecustomize this one shadows (walguard is not affected): RuntimeError: the apport hook failed=1" header=0202 -- \
  env CHAIN_RAISE=1 PYTHONPATH="$py:$after" /usr/bin/python3 "$apps/app.py"
mkdir -p "$work/py-copy" && cp "$py/sitecustomize.py" "$work/py-copy/" && ln -s "$py" "$work/py-link"
expect "sitecustomize: its directory twice, through a symlink, and a copy of it on sys.path: Debian's runs once" \
  "$apport=1" "$refused=1" "$errors=0" header=0202 -- \
  env PYTHONPATH="$py:$work/py-link:$py:$work/py-copy:$after" /usr/bin/python3 "$apps/app.py"
expect "sitecustomize: an application's sitecustomize that chains back to walguard's runs once, no recursion" \
  "$app_ran=1" "$apport=0" "$refused=1" "$errors=0" header=0202 -- \
  env PYTHONPATH="$py:$chain/naive:$after" /usr/bin/python3 "$apps/app.py"

# A venv of Debian's python3: its stdlib (and Debian's sitecustomize) comes before the venv's
# site-packages on sys.path, so the venv's own sitecustomize never runs, walguard or not.
/usr/bin/python3 -m venv --without-pip "$work/venv-debian"
venv_debian_site=$("$work/venv-debian/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
cp "$chain/venv_sitecustomize.py" "$venv_debian_site/sitecustomize.py"
expect "control: a venv of Debian's python3 runs Debian's sitecustomize, not its own" "$apport=1" "$venv_ran=0" header=0101 -- \
  env PYTHONPATH="$after" "$work/venv-debian/bin/python" "$apps/app.py"
expect "sitecustomize: a venv of Debian's python3, guarded, the same sitecustomize runs as without walguard" \
  "$apport=1" "$venv_ran=0" "$refused=1" "$errors=0" header=0202 -- \
  env PYTHONPATH="$py:$after" "$work/venv-debian/bin/python" "$apps/app.py"
cp "$py/sitecustomize.py" "$venv_debian_site/sitecustomize.py"
expect "walguard's sitecustomize in the site-packages of a venv of Debian's python3 never runs: use PYTHONPATH" \
  "$apport=1" "$refused=0" header=0101 -- \
  env PYTHONPATH="$after" WALGUARD_LIB="$lib/libwalguard.so" "$work/venv-debian/bin/python" "$apps/app.py"

# A venv of an interpreter with no sitecustomize of its own (.deps/venv's, pyenv's python3
# here): the venv's sitecustomize is the one walguard's shadows. That interpreter's sqlite3
# cannot load extensions; APSW (reached through a .pth to .deps/venv) is guarded.
base=$("$root/.deps/venv/bin/python" -c 'import sys; print(sys._base_executable)')
if "$base" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("sitecustomize") is not None)'; then
  "$base" -m venv --without-pip "$work/venv-plain"
  venv_plain_site=$("$work/venv-plain/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  cp "$chain/venv_sitecustomize.py" "$venv_plain_site/sitecustomize.py"
  "$root/.deps/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))' >"$venv_plain_site/deps-venv.pth"
  expect "sitecustomize: $base has no sitecustomize for walguard's to run" "$refused=0" \
    "sys.modules['sitecustomize'] is $py/sitecustomize.py=1" "walguard's ran: True and ran None=1" \
    "$errors SQLite is NOT guarded: this Python's sqlite3 module cannot load extensions=1" "$errors=1" header=0202 -- \
    env PYTHONPATH="$py" "$base" "$chain/show_sitecustomize.py"
  expect "control: a venv of $base runs its own sitecustomize" "$venv_ran=1" header=0101 -- \
    "$work/venv-plain/bin/python" "$apps/app_apsw_seed.py"
  expect "sitecustomize, WALGUARD_APSW=1: a venv of $base, APSW guarded and the venv's sitecustomize run once" \
    "$venv_ran=1" "$refused=1" "$errors SQLite is NOT guarded: this Python's sqlite3 module cannot load extensions=1" "$errors=1" header=0202 -- \
    env PYTHONPATH="$py" WALGUARD_APSW=1 "$work/venv-plain/bin/python" "$apps/app_apsw_seed.py"
  expect "sitecustomize: the venv's sitecustomize raises: reported, APSW still guarded" "$venv_ran=1" "$refused=1" \
    "$errors error in $venv_plain_site/sitecustomize.py, the sitecustomize this one shadows (walguard is not affected): RuntimeError: the venv's sitecustomize failed=1" header=0202 -- \
    env PYTHONPATH="$py" WALGUARD_APSW=1 CHAIN_RAISE=1 "$work/venv-plain/bin/python" "$apps/app_apsw_seed.py"
else
  echo "skip a venv of an interpreter without its own sitecustomize: .deps/venv's, $base, has one"
fi
# Where the interpreter's sqlite3 cannot load extensions but links the shared libsqlite3
# (pyenv's builds), the preload needs no help from Python.
if ! "$base" -c "import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)" 2>/dev/null; then
  guarded "LD_PRELOAD: $base, whose sqlite3 cannot load extensions" "${preload[@]}" "$base" "$apps/app.py"
else
  echo "skip LD_PRELOAD into a python3 that cannot load extensions: .deps/venv's, $base, can"
fi

npm_lib=$work/npm/lib/linux-$(node -p process.arch) # the package's layout (packages/npm/index.js)
mkdir -p "$npm_lib" && cp "$root"/packages/npm/*.js "$work/npm/" && cp "$lib/libwalguard.so" "$npm_lib/"
guarded "node --require register: better-sqlite3" env NODE_PATH="$root/.deps/node/node_modules" node --require "$work/npm/register.js" "$apps/app.js"

guarded "LD_PRELOAD: sqlite3 shell, a WAL database ATTACHed by the first connection" "${preload[@]}" bash "$apps/attach.sh"
guarded "LD_PRELOAD: python3, a WAL database ATTACHed by the first connection" "${preload[@]}" /usr/bin/python3 "$apps/attach.py"
guarded "LD_PRELOAD: pysqlite3-binary (bundled SQLite, exported API)" "${preload[@]}" "$root/.deps/venv-debian/bin/python" "$apps/app_pysqlite3.py"
guarded "LD_PRELOAD: pysqlite3-binary after the stdlib sqlite3 in one process" "${preload[@]}" "$root/.deps/venv-debian/bin/python" "$apps/app_pysqlite3.py" stdlib-first
# sitecustomize loads libwalguard.so into the stdlib's SQLite with RTLD_GLOBAL; pysqlite3's copy
# must still be its own.
guarded "LD_PRELOAD and sitecustomize: pysqlite3-binary after the stdlib sqlite3" "${preload[@]}" \
  PYTHONPATH="$dest/usr/share/walguard/python" "$root/.deps/venv-debian/bin/python" "$apps/app_pysqlite3.py" stdlib-first
guarded "LD_PRELOAD: npm sqlite3 (bundled SQLite, exported API)" "${preload[@]}" env NODE_PATH="$root/.deps/node-sqlite3/node_modules" node "$apps/app_node_sqlite3.js"
# Go, Java, Ruby and Perl clients from Debian link the shared libsqlite3: the preload reaches them.
mkdir -p "$work/bin"
env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$root/.deps/go-cache" go build -o "$work/bin/app_go" "$apps/app.go"
guarded "LD_PRELOAD: Go, mattn/go-sqlite3" "${preload[@]}" "$work/bin/app_go"
# Go with SQLite compiled into the binary, as `go get github.com/mattn/go-sqlite3` builds it
# (Debian strips the amalgamation; here it is SQLite 3.37.0's): the preload cannot reach a
# SQLite linked statically, so it is untouched and works; the program guards itself through
# go-sqlite3's own API.
gobundled=$work/gopath-bundled/src/github.com/mattn/go-sqlite3
mkdir -p "$(dirname "$gobundled")" && cp -r /usr/share/gocode/src/github.com/mattn/go-sqlite3 "$gobundled"
rm "$gobundled/sqlite3_libsqlite3.go" # what `-tags libsqlite3` selects upstream
amalgamation=$("$root/scripts/old-sqlite.sh" 3.37.0)
{ echo '#ifndef USE_LIBSQLITE3'; cat "$amalgamation/sqlite3.c"; echo '#endif'; } >"$gobundled/sqlite3-binding.c"
{ echo '#ifndef USE_LIBSQLITE3'; cat "$amalgamation/sqlite3.h"; echo '#else'; echo '#include <sqlite3.h>'; echo '#endif'; } >"$gobundled/sqlite3-binding.h"
for app in app app_go_load; do
  env GO111MODULE=off GOPATH="$work/gopath-bundled" GOCACHE="$root/.deps/go-cache" go build -o "$work/bin/${app}_bundled" "$apps/$app.go"
done
harmless "LD_PRELOAD untouched: Go with SQLite 3.37.0 compiled in converts" $'delete\n3' "${preload[@]}" "$work/bin/app_bundled"
guarded "Go with SQLite 3.37.0 compiled in, walguard through SQLiteDriver.Extensions" env WALGUARD_LIB="$lib/libwalguard.so" "$work/bin/app_go_load_bundled"
guarded "LD_PRELOAD: Java, xerial sqlite-jdbc" "${preload[@]}" java -cp /usr/share/java/sqlite-jdbc.jar "$apps/App.java"
guarded "LD_PRELOAD: Ruby, sqlite3" "${preload[@]}" ruby "$apps/app.rb"
guarded "LD_PRELOAD: Perl, DBD::SQLite" "${preload[@]}" perl "$apps/app.pl"
# PHP loads its SQLite modules with RTLD_DEEPBIND: the preload never sees their calls (this
# control shows it), its auto_prepend_file does the job.
harmless "LD_PRELOAD does not reach PHP (RTLD_DEEPBIND): SQLite3 converts" $'delete\n3' "${preload[@]}" php "$apps/app.php"
php_prepend=(php -d auto_prepend_file="$dest/usr/share/walguard/php/walguard.php" -d sqlite3.extension_dir="$lib")
guarded "PHP auto_prepend_file: SQLite3" "${php_prepend[@]}" "$apps/app.php"
guarded "PHP auto_prepend_file: PDO" "${php_prepend[@]}" "$apps/app_pdo.php"

# Without the preload, the same two bundles convert the file: the tests above prove something.
harmless "control: pysqlite3-binary without the preload converts" $'delete\n3' "$root/.deps/venv-debian/bin/python" "$apps/app_pysqlite3.py"
harmless "control: npm sqlite3 without the preload converts" $'delete\n3' env NODE_PATH="$root/.deps/node-sqlite3/node_modules" node "$apps/app_node_sqlite3.js"

# An application that calls sqlite3_config before its first open: accepted and in force.
gcc -Wall -O1 -o "$work/bin/config_first" "$apps/config_first.c" -lsqlite3
fresh_db
out=$(cd "$work/run" && "${preload[@]}" "$work/bin/config_first" 2>&1)
want="config before the first open: 0 0
open: 0
walguard: refused journal_mode=DELETE on '$work/run/app.db': the database is in WAL mode and other connections may depend on it; to convert it deliberately, close every other connection to it (a walguard-hold holding it too) and open it as 'file://$work/run/app.db?walguard=off'
the application's log callback called: yes
config after the first open: 21"
if [ "$out" = "$want" ]; then ok "LD_PRELOAD: sqlite3_config before the first open still accepted and in force"
else bad "LD_PRELOAD: sqlite3_config before the first open" "output: $out"; fi

# Bundles exporting a SQLite walguard cannot be loaded into: their own open is reached (the
# log line comes first: stderr is unbuffered, the program's stdout is flushed at exit).
gcc -Wall -O1 -o "$work/bin/load_bundle" "$apps/load_bundle.c" -ldl
gcc -Wall -O1 -shared -fPIC -DVERSION=3030001 -o "$work/bin/old_bundle.so" "$apps/fake_bundle.c"
gcc -Wall -O1 -shared -fPIC -DVERSION=3045000 -DNO_LOAD_EXTENSION -o "$work/bin/noext_bundle.so" "$apps/fake_bundle.c"
harmless "LD_PRELOAD untouched: a bundled SQLite 3.30.1 reaches its own open" "walguard preload: left SQLite of $work/bin/old_bundle.so untouched: SQLite 3.30.1 is older than 3.31.1"$'\nopen: 42' \
  "${preload[@]}" WALGUARD_PRELOAD_LOG=1 "$work/bin/load_bundle" "$work/bin/old_bundle.so"
harmless "LD_PRELOAD untouched: a bundled SQLite without extension loading reaches its own open" "walguard preload: left SQLite of $work/bin/noext_bundle.so untouched: built without extension loading"$'\nopen: 42' \
  "${preload[@]}" WALGUARD_PRELOAD_LOG=1 "$work/bin/load_bundle" "$work/bin/noext_bundle.so"

# The hooks load walguard into the SQLite they know; other bundles in the process work as before.
harmless "sitecustomize leaves pysqlite3-binary untouched" $'delete\n3' env PYTHONPATH="$dest/usr/share/walguard/python" \
  "$root/.deps/venv-debian/bin/python" "$apps/app_pysqlite3.py"
harmless "node --require register leaves npm sqlite3 untouched" $'delete\n3' \
  env NODE_PATH="$root/.deps/node/node_modules:$root/.deps/node-sqlite3/node_modules" node --require "$work/npm/register.js" "$apps/app_node_sqlite3.js"
harmless "LD_PRELOAD harmless: APSW bundles its SQLite" "[] 3" "${preload[@]}" "$root/.deps/venv/bin/python" "$apps/app_apsw.py"
harmless "LD_PRELOAD harmless: better-sqlite3 bundles its SQLite" $'delete\n3' "${preload[@]}" env NODE_PATH="$root/.deps/node/node_modules" node "$apps/app.js"
harmless "LD_PRELOAD harmless: a program with no SQLite" "app.db" "${preload[@]}" ls
harmless "LD_PRELOAD harmless: python3 without sqlite3" "42" "${preload[@]}" /usr/bin/python3 -c 'print(42)'

make -s -C "$root" uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null
left=$(find "$dest" -type f -o -type l)
if [ -z "$left" ]; then ok "make uninstall removes everything it installed"; else bad "make uninstall" "left: $left"; fi

echo "deploy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
