#!/usr/bin/env bash
# make test-release: checks every artifact `make release` left in release/, each the way a user
# gets it:
#   - SHA256SUMS verifies and lists exactly the seven artifacts of the workspace version;
#   - each archive (x86_64, aarch64): its files, LICENSE, the binaries' architecture, glibc
#     symbol versions no newer than 2.17 and no library outside manylinux2014's; then the
#     binaries at work, x86_64 with this machine's sqlite3, aarch64 under qemu-user with
#     Debian's arm64 sqlite3 and libsqlite3-0 (scripts/arm64-sysroot.sh): the extension and the
#     preload refuse `journal_mode=DELETE` on a WAL file with the walguard: message and the
#     header stays 2,2; walguard-hold makes a plain sqlite3's downgrade fail, and without it the
#     same downgrade goes through (the control); the x86_64 walguard-hold also passes
#     tests/hold/test_hold.py;
#   - each wheel: its tags (auditwheel show: manylinux_2_17), installed with pip from the file
#     (x86_64 into a venv of Debian's python3; aarch64 with pip's --platform into a directory
#     run by Debian's arm64 python3.11 under qemu), walguard.load() and a refusal;
#   - the npm tarball: both libraries, each the archive's; installed from the file into a new
#     project and used with better-sqlite3; the library chosen for each architecture;
#   - each .deb: its control fields and files; amd64 installed with dpkg -i, used from the
#     installed paths, removed with dpkg -r and every file gone; arm64 unpacked and run under qemu;
#   - one version everywhere: Cargo.toml's, walguard_version(), walguard-hold --version, the
#     file names, the wheel's METADATA and __version__, package.json, the .deb's Version, and a
#     CHANGELOG.md section.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rel=$root/release
version=$(scripts/version.sh)
tools=$(scripts/ensure-release-tools.sh test)
sysroot=$(scripts/arm64-sysroot.sh)
work=$(mktemp -d /tmp/walguard-release.XXXXXX)
pids=()
deb_installed=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$deb_installed" = 1 ]; then dpkg --purge walguard >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
unset WALGUARD_LIB WALGUARD_POLICY LD_PRELOAD
pass=0 fail=0
check() { # description command...: passes when the command succeeds
  local what=$1
  shift
  if "$@"; then pass=$((pass + 1)); echo "ok: $what"; else fail=$((fail + 1)); echo "FAIL: $what"; fi
}
same() { [ "$1" = "$2" ] || { echo "  got:  $1" >&2; echo "  want: $2" >&2; return 1; }; }
contains() { case $1 in *"$2"*) ;; *) echo "  $(printf '%q' "${1:0:400}") lacks $2" >&2; return 1 ;; esac; }

# --- helpers -------------------------------------------------------------------------------
# The highest GLIBC_x.y symbol version an ELF file needs (or none).
glibc_needed() { objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1; }
not_newer() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" = "$2" ]; }
floor_ok() { local v; v=$(glibc_needed "$1"); [ -n "$v" ] && not_newer "$v" 2.17 || { echo "  $1 needs GLIBC_$v" >&2; return 1; }; }
# manylinux2014's libraries (PEP 599) are the only ones a portable binary may need.
libs_ok() {
  local lib bad=0
  for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case $lib in
      libc.so.6 | libpthread.so.0 | libdl.so.2 | libm.so.6 | librt.so.1 | libgcc_s.so.1 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
      *) echo "  $1 needs $lib" >&2; bad=1 ;;
    esac
  done
  return $bad
}
machine() { readelf -h "$1" | sed -n 's/^ *Machine: *//p'; }
elf_machine() { case $1 in x86_64) echo "Advanced Micro Devices X86-64" ;; aarch64) echo AArch64 ;; esac; }
header() { od -An -tu1 -j18 -N2 "$1" | xargs | tr ' ' ,; }
# Runs an ARCH binary: natively, or under qemu-user with the arm64 tree as its root.
run() { # arch [VAR=value...] program args...
  local arch=$1 envs=()
  shift
  while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
  if [ "$arch" = aarch64 ]; then
    local qenv=()
    for e in "${envs[@]}"; do qenv+=(-E "$e"); done
    qemu-aarch64-static -L "$sysroot" "${qenv[@]}" "$@"
  else
    env "${envs[@]}" "$@"
  fi
}
shell_of() { case $1 in x86_64) echo /usr/bin/sqlite3 ;; aarch64) echo "$sysroot/usr/bin/sqlite3" ;; esac; }
make_db() { # arch path: a WAL database with 3 rows, made without walguard
  rm -f "$2" "$2-wal" "$2-shm"
  run "$1" "$(shell_of "$1")" "$2" 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1),(2),(3);' >/dev/null
}

# The extension loaded with .load: refusal, the header, the rows, the version, the floor.
extension_refuses() { # arch library dir
  local arch=$1 lib=$2 dir=$3 out
  make_db "$arch" "$dir/app.db"
  out=$(cd "$dir" && run "$arch" "$(shell_of "$arch")" :memory: -cmd ".load $lib" -cmd '.open app.db' \
    'SELECT walguard_version(); SELECT walguard_status(); PRAGMA journal_mode=DELETE;' 2>"$dir/err") && {
    echo "  not refused: $out" >&2
    return 1
  }
  contains "$(cat "$dir/err")" "walguard: refused journal_mode=DELETE on '$dir/app.db'" &&
    same "$(head -1 <<<"$out")" "$version" &&
    contains "$out" '"sqlite_floor":"3.31.1"' &&
    same "$(header "$dir/app.db")" 2,2 &&
    same "$(run "$arch" "$(shell_of "$arch")" "$dir/app.db" 'SELECT count(*) FROM t')" 3
}

# The preload: the shell untouched, walguard found next to the preload library.
preload_refuses() { # arch preload dir
  local arch=$1 preload=$2 dir=$3 out
  make_db "$arch" "$dir/app.db"
  out=$(run "$arch" "LD_PRELOAD=$preload" "$(shell_of "$arch")" "$dir/app.db" 'PRAGMA walguard; PRAGMA journal_mode=DELETE;' 2>"$dir/err") && {
    echo "  not refused: $out" >&2
    return 1
  }
  same "$out" enforce && contains "$(cat "$dir/err")" "walguard: refused journal_mode=DELETE" &&
    same "$(header "$dir/app.db")" 2,2
}

# walguard-hold: its version; with it holding, a plain shell's downgrade fails and the file
# stays WAL; once it is stopped, the same downgrade goes through (so the first part can fail).
hold_holds() { # arch walguard-hold dir
  local arch=$1 hold=$2 dir=$3 out pid i
  same "$(run "$arch" "$hold" --version)" "walguard-hold $version" || return 1
  make_db "$arch" "$dir/app.db"
  # exec: $! is then walguard-hold itself (or qemu running it), which kill must reach.
  if [ "$arch" = aarch64 ]; then
    exec_holder() { exec qemu-aarch64-static -L "$sysroot" "$@"; }
  else
    exec_holder() { exec "$@"; }
  fi
  (exec_holder "$hold" --interval 0.1 "$dir/app.db" 2>"$dir/hold.log") &
  pid=$!
  pids+=("$pid")
  for i in $(seq 100); do grep -q "walguard-hold: holding" "$dir/hold.log" && break; sleep 0.1; done
  out=$(run "$arch" "$(shell_of "$arch")" "$dir/app.db" 'PRAGMA journal_mode=DELETE;' 2>&1) || true
  local held_header
  held_header=$(header "$dir/app.db")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  contains "$(cat "$dir/hold.log")" "walguard-hold: holding" && contains "$out" "database is locked" &&
    same "$held_header" 2,2 &&
    same "$(run "$arch" "$(shell_of "$arch")" "$dir/app.db" 'PRAGMA journal_mode=DELETE;')" delete &&
    same "$(header "$dir/app.db")" 1,1
}

# --- SHA256SUMS ----------------------------------------------------------------------------
expected=(
  "sqlite-walguard-$version.tgz"
  "sqlite_walguard-$version-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
  "sqlite_walguard-$version-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
  "walguard-$version-linux-aarch64.tar.gz"
  "walguard-$version-linux-x86_64.tar.gz"
  "walguard_${version}_amd64.deb"
  "walguard_${version}_arm64.deb"
)
check "SHA256SUMS lists exactly the release's artifacts" \
  same "$(awk '{print $2}' "$rel/SHA256SUMS" | sort)" "$(printf '%s\n' "${expected[@]}" | sort)"
check "SHA256SUMS verifies" bash -c "cd '$rel' && sha256sum --quiet -c SHA256SUMS"
check "CHANGELOG.md has a section for $version" grep -q "^## $version\b" CHANGELOG.md
floor_fails() { ! floor_ok "$1" 2>/dev/null; }
check "control: the glibc check sees that this machine's sqlite3 needs more than 2.17 ($(glibc_needed /usr/bin/sqlite3))" \
  floor_fails /usr/bin/sqlite3

# --- archives ------------------------------------------------------------------------------
for arch in x86_64 aarch64; do
  name=walguard-$version-linux-$arch
  dir=$work/$arch
  mkdir -p "$dir"
  tar -C "$dir" -xzf "$rel/$name.tar.gz"
  bin=$dir/$name
  check "$arch archive: its files" same "$(tar -tzf "$rel/$name.tar.gz" | sort | paste -sd' ')" \
    "$name/ $name/CHANGELOG.md $name/LICENSE $name/README.md $name/libwalguard.so $name/libwalguard_preload.so $name/walguard-hold $name/walguard-hold@.service"
  check "$arch archive: LICENSE" cmp -s "$bin/LICENSE" LICENSE
  check "$arch archive: the unit runs /usr/local/bin/walguard-hold" grep -q '^ExecStart=/usr/local/bin/walguard-hold ' "$bin/walguard-hold@.service"
  for f in libwalguard.so libwalguard_preload.so walguard-hold; do
    check "$arch $f: built for $arch" same "$(machine "$bin/$f")" "$(elf_machine "$arch")"
    check "$arch $f: glibc symbol versions <= 2.17 (needs $(glibc_needed "$bin/$f"))" floor_ok "$bin/$f"
    check "$arch $f: links only manylinux2014's libraries" libs_ok "$bin/$f"
  done
  check "$arch libwalguard.so: soname libwalguard.so" \
    same "$(readelf -d "$bin/libwalguard.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" libwalguard.so
  check "$arch extension: refused with the walguard: message, header 2,2, rows intact, version $version" \
    extension_refuses "$arch" "$bin/libwalguard.so" "$dir"
  check "$arch preload: refused in an unchanged sqlite3, header 2,2" preload_refuses "$arch" "$bin/libwalguard_preload.so" "$dir"
  check "$arch walguard-hold: a plain sqlite3's downgrade fails while it holds, goes through after" \
    hold_holds "$arch" "$bin/walguard-hold" "$dir"
done

# The README's first refusal (tests/clients/quickstart.sh, shown with its output), as a
# newcomer runs it: in the unpacked x86_64 archive, with no database yet.
quickstart() {
  local dir=$work/quickstart/walguard-$version-linux-x86_64
  mkdir -p "$work/quickstart"
  tar -C "$work/quickstart" -xzf "$rel/walguard-$version-linux-x86_64.tar.gz"
  (cd "$dir" && bash "$root/tests/clients/quickstart.sh" >"$work/quickstart/out" 2>"$work/quickstart/err") || true
  same "$({ cat "$work/quickstart/out"; echo "--- stderr ---"; cat "$work/quickstart/err"; } | sed "s#$dir#\$DIR#g")" \
    "$(cat tests/clients/expected/quickstart.txt)" && same "$(header "$dir/app.db")" 2,2
}
check "x86_64 archive: the README's first refusal, run in the unpacked archive, prints what the README shows" quickstart

# The x86_64 walguard-hold, SQLite compiled in, through walguard-hold's own suite: its clients
# (the system sqlite3, python3, Tcl, APSW, better-sqlite3) each use another SQLite build.
hold_suite() {
  WALGUARD_HOLD="$work/x86_64/walguard-$version-linux-x86_64/walguard-hold" /usr/bin/python3 tests/hold/test_hold.py >"$work/hold-suite.log" 2>&1
  local rc=$?
  grep -E '^(FAIL|hold:)' "$work/hold-suite.log" | sed 's/^/  /'
  return $rc
}
check "x86_64 walguard-hold: tests/hold/test_hold.py against it" hold_suite

# --- wheels --------------------------------------------------------------------------------
py_check='
import sqlite3, sys, walguard
version = sys.argv[1]
assert walguard.__version__ == version, walguard.__version__
walguard.load()
conn = sqlite3.connect("app.db")
try:
    conn.execute("PRAGMA journal_mode=DELETE")
    raise SystemExit("not refused")
except sqlite3.OperationalError as e:
    assert str(e).startswith("walguard: refused journal_mode=DELETE"), e
assert open("app.db", "rb").read(20)[18:20] == b"\x02\x02"
assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
assert conn.execute("SELECT walguard_version()").fetchone() == (version,)
print("refused")
'
for arch in x86_64 aarch64; do
  wheel=$rel/sqlite_walguard-$version-py3-none-manylinux_2_17_$arch.manylinux2014_$arch.whl
  dir=$work/wheel-$arch
  mkdir -p "$dir/unpacked"
  (cd "$dir/unpacked" && python3 -m zipfile -e "$wheel" .)
  info=$dir/unpacked/sqlite_walguard-$version.dist-info
  check "$arch wheel: auditwheel says manylinux_2_17_$arch" \
    contains "$("$tools/auditwheel" show "$wheel" 2>&1)" "\"manylinux_2_17_$arch\""
  check "$arch wheel: METADATA version $version" grep -qx "Version: $version" "$info/METADATA"
  check "$arch wheel: WHEEL tags" same "$(grep '^Tag:' "$info/WHEEL" | paste -sd' ')" \
    "Tag: py3-none-manylinux_2_17_$arch Tag: py3-none-manylinux2014_$arch"
  check "$arch wheel: LICENSE" cmp -s "$info/LICENSE" LICENSE
  check "$arch wheel: the archive's libwalguard.so" cmp -s "$dir/unpacked/walguard/libwalguard.so" "$work/$arch/walguard-$version-linux-$arch/libwalguard.so"
done
# x86_64: pip install from the file into a fresh venv of Debian's python3 (its sqlite3 loads
# extensions), then use it.
wheel_x86() {
  local dir=$work/wheel-x86_64
  /usr/bin/python3 -m venv "$dir/venv" 2>/dev/null || { scripts/ensure-deps.sh python-venv; /usr/bin/python3 -m venv "$dir/venv"; }
  "$dir/venv/bin/pip" install -q --disable-pip-version-check --no-index "$rel/sqlite_walguard-$version-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
  make_db x86_64 "$dir/app.db"
  same "$(cd "$dir" && "$dir/venv/bin/python" -c "$py_check" "$version")" refused
}
check "x86_64 wheel: pip installs it, walguard.load() guards, refusal, version $version" wheel_x86
check "control: pip refuses the aarch64 wheel on x86_64" bash -c \
  "! '$work/wheel-x86_64/venv/bin/pip' install -q --disable-pip-version-check --no-index '$rel/sqlite_walguard-$version-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl' 2>/dev/null"
# aarch64: pip installs it for an aarch64 CPython 3.11 into a directory, which Debian's arm64
# python3.11 uses under qemu.
wheel_arm() {
  local dir=$work/wheel-aarch64
  "$work/wheel-x86_64/venv/bin/pip" install -q --disable-pip-version-check --no-index --no-deps \
    --only-binary=:all: --platform manylinux2014_aarch64 --implementation cp --python-version 3.11 \
    --target "$dir/site" "$rel/sqlite_walguard-$version-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
  same "$(machine "$dir/site/walguard/libwalguard.so")" AArch64 || return 1
  make_db aarch64 "$dir/app.db"
  same "$(cd "$dir" && run aarch64 "PYTHONPATH=$dir/site" "$sysroot/usr/bin/python3.11" -c "$py_check" "$version")" refused
}
check "aarch64 wheel: pip installs it for aarch64, Debian's arm64 python3 under qemu loads it, refusal" wheel_arm

# --- npm -----------------------------------------------------------------------------------
npm_dir=$work/npm
mkdir -p "$npm_dir/unpacked"
tar -C "$npm_dir/unpacked" -xzf "$rel/sqlite-walguard-$version.tgz"
check "npm: package.json version $version, cpu x64 and arm64" same \
  "$(node -p "const p = require('$npm_dir/unpacked/package/package.json'); p.version + ' ' + p.cpu.join(',')")" "$version x64,arm64"
check "npm: LICENSE" cmp -s "$npm_dir/unpacked/package/LICENSE" LICENSE
check "npm: linux-x64's library is the x86_64 archive's" \
  cmp -s "$npm_dir/unpacked/package/lib/linux-x64/libwalguard.so" "$work/x86_64/walguard-$version-linux-x86_64/libwalguard.so"
check "npm: linux-arm64's library is the aarch64 archive's" \
  cmp -s "$npm_dir/unpacked/package/lib/linux-arm64/libwalguard.so" "$work/aarch64/walguard-$version-linux-aarch64/libwalguard.so"
npm_use() {
  mkdir -p "$npm_dir/project" && cd "$npm_dir/project"
  npm init -y >/dev/null
  npm install --offline --no-audit --no-fund --loglevel=error "$rel/sqlite-walguard-$version.tgz" >/dev/null
  cd "$root"
  make_db x86_64 "$npm_dir/app.db"
  same "$(cd "$npm_dir" && NODE_PATH="$root/.deps/node/node_modules" node - "$version" <<'JS'
const Database = require("better-sqlite3");
const walguard = require(require.resolve("sqlite-walguard", { paths: [process.cwd() + "/project"] }));
const fs = require("fs");
walguard.load(new Database(":memory:"));
const db = new Database("app.db");
let message = "";
try { db.pragma("journal_mode = DELETE"); } catch (e) { message = e.message; }
if (!message.startsWith("walguard: refused journal_mode=DELETE")) throw new Error("not refused: " + message);
const h = fs.readFileSync("app.db").subarray(18, 20);
if (h[0] !== 2 || h[1] !== 2) throw new Error("header " + h);
if (db.prepare("SELECT walguard_version()").pluck().get() !== process.argv[2]) throw new Error("version");
console.log("refused");
JS
)" refused
}
check "npm: installed from the tarball into a new project, better-sqlite3 guarded, refusal" npm_use
npm_arch() { # arch as node names it -> the path getLoadablePath() gives, or its error
  node -e "Object.defineProperty(process, 'arch', { value: '$1' });
    try { console.log(require('$npm_dir/project/node_modules/sqlite-walguard').getLoadablePath()); }
    catch (e) { console.log(e.message); }"
}
check "npm: getLoadablePath() on arm64 gives the AArch64 library" \
  same "$(machine "$(npm_arch arm64)")" AArch64
check "npm: getLoadablePath() on x64 gives the x86-64 library" \
  same "$(machine "$(npm_arch x64)")" "Advanced Micro Devices X86-64"
check "npm: on an architecture it lacks, getLoadablePath() says so" \
  contains "$(npm_arch ppc64)" "walguard: no library for linux-ppc64 in this package (it has: linux-arm64, linux-x64)"

# --- .deb ----------------------------------------------------------------------------------
deb_files() { # the package's files, one a line, sorted
  dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' | sort
}
for arch in x86_64 aarch64; do
  case $arch in x86_64) deb_arch=amd64 ;; aarch64) deb_arch=arm64 ;; esac
  deb=$rel/walguard_${version}_$deb_arch.deb
  ma=/usr/lib
  check "$deb_arch .deb: Package, Version $version, Architecture" same \
    "$(dpkg-deb -f "$deb" Package Version Architecture | paste -sd' ')" "Package: walguard Version: $version Architecture: $deb_arch"
  check "$deb_arch .deb: its files" same "$(deb_files "$deb" | paste -sd' ')" \
    "$(printf '%s\n' /usr/bin/walguard-hold "$ma/libwalguard.so" "$ma/libwalguard_preload.so" "$ma/walguard.so" \
      /usr/lib/systemd/system/walguard-hold@.service /usr/share/doc/walguard/CHANGELOG.md /usr/share/doc/walguard/README.md \
      /usr/share/doc/walguard/copyright /usr/share/walguard/php/walguard.php /usr/share/walguard/python/sitecustomize.py | sort | paste -sd' ')"
  mkdir -p "$work/deb-$deb_arch"
  dpkg-deb -x "$deb" "$work/deb-$deb_arch"
  x=$work/deb-$deb_arch
  check "$deb_arch .deb: copyright carries LICENSE" \
    same "$(sed -n '/^License: MIT$/,$p' "$x/usr/share/doc/walguard/copyright" | tail -n +2 | sed -e 's/^ //' -e 's/^\.$//')" "$(cat LICENSE)"
  for f in "$ma/libwalguard.so" "$ma/libwalguard_preload.so" /usr/bin/walguard-hold; do
    check "$deb_arch .deb: $f is the archive's" cmp -s "$x$f" "$work/$arch/walguard-$version-linux-$arch/$(basename "$f")"
  done
done
check "arm64 .deb: its extension refuses under qemu" extension_refuses aarch64 "$work/deb-arm64/usr/lib/walguard.so" "$work/deb-arm64"

deb_install() {
  if dpkg-query -W -f='${Status}' walguard 2>/dev/null | grep -q installed; then
    echo "  a walguard package is already installed here; not touching it" >&2
    return 1
  fi
  deb_installed=1
  dpkg -i "$rel/walguard_${version}_amd64.deb" >/dev/null
  local ma=/usr/lib f missing=0 dir=$work/deb-installed out
  same "$(dpkg-query -W -f='${Status} ${Version}' walguard)" "install ok installed $version" || return 1
  for f in $(deb_files "$rel/walguard_${version}_amd64.deb"); do [ -e "$f" ] || { echo "  $f missing" >&2; missing=1; }; done
  [ "$missing" = 0 ] || return 1
  # dpkg's ldconfig trigger ran: the dynamic loader knows the library (under /lib or /usr/lib,
  # the same directory on a merged /usr).
  ldconfig -p | grep -Eq "libwalguard.so \(libc6,x86-64\) => (/usr)?/lib/libwalguard.so$" ||
    { echo "  ldconfig -p does not list the installed libwalguard.so" >&2; return 1; }
  grep -q '^ExecStart=/usr/bin/walguard-hold ' /usr/lib/systemd/system/walguard-hold@.service || return 1
  mkdir -p "$dir"
  extension_refuses x86_64 "$ma/walguard.so" "$dir" && preload_refuses x86_64 "$ma/libwalguard_preload.so" "$dir" &&
    hold_holds x86_64 /usr/bin/walguard-hold "$dir" || return 1
  # By name, as the README says: `.load walguard` (SQLite tries walguard.so on the loader's path).
  same "$(sqlite3 :memory: -cmd '.load walguard' 'SELECT walguard_version()')" "$version" || return 1
  # Python's sitecustomize and PHP's prepend file, from their installed places.
  make_db x86_64 "$dir/app.db"
  out=$(cd "$dir" && PYTHONPATH=/usr/share/walguard/python /usr/bin/python3 -c '
import sqlite3
try:
    sqlite3.connect("app.db").execute("PRAGMA journal_mode=DELETE")
except sqlite3.OperationalError as e:
    print(e)' 2>&1)
  contains "$out" "walguard: refused journal_mode=DELETE" && same "$(header "$dir/app.db")" 2,2 || return 1
  # A script file: PHP applies auto_prepend_file to scripts, not to `php -r` code.
  cat >"$dir/app.php" <<'PHP'
<?php
$db = new SQLite3("app.db");
$db->enableExceptions(true);
try { $db->exec("PRAGMA journal_mode=DELETE"); } catch (Exception $e) { echo $e->getMessage(), PHP_EOL; }
PHP
  make_db x86_64 "$dir/app.db"
  out=$(cd "$dir" && php -d auto_prepend_file=/usr/share/walguard/php/walguard.php -d sqlite3.extension_dir=/usr/lib app.php 2>&1)
  contains "$out" "walguard: refused journal_mode=DELETE" && same "$(header "$dir/app.db")" 2,2
}
check "amd64 .deb: dpkg -i, files in place, ldconfig knows it; the installed extension (by path and by name), preload, walguard-hold, sitecustomize and PHP prepend work" deb_install
deb_remove() {
  local f left=0
  dpkg -r walguard >/dev/null
  for f in $(deb_files "$rel/walguard_${version}_amd64.deb"); do [ ! -e "$f" ] || { echo "  $f left" >&2; left=1; }; done
  dpkg --purge walguard >/dev/null 2>&1 || true # nothing is left after -r but dpkg's record
  deb_installed=0
  [ "$left" = 0 ] && ! dpkg-query -W -f='${Status}' walguard 2>/dev/null | grep -q ' installed' &&
    ! ldconfig -p | grep -Eq 'libwalguard.so \(libc6,x86-64\) => (/usr)?/lib/libwalguard.so$'
}
check "amd64 .deb: dpkg -r removes every file" deb_remove

echo "release: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
