#!/usr/bin/env bash
# Installs what building and testing walguard needs, only when it is missing.
#   scripts/ensure-deps.sh build   libclang + sqlite3.h (bindgen reads the system header)
#   scripts/ensure-deps.sh test    + the sqlite3 shell, Debian's python3, Tcl's sqlite3
#   scripts/ensure-deps.sh valgrind  + valgrind
#   scripts/ensure-deps.sh clients   the Go, Java, PHP, Ruby and Perl clients (tests/clients/run.sh)
#   scripts/ensure-deps.sh miri      Miri on the nightly toolchain $MIRI_TOOLCHAIN (pinned in the Makefile), through rustup
#   scripts/ensure-deps.sh fuse      bindfs, a FUSE filesystem for walguard-hold status's tests
#   scripts/ensure-deps.sh peers     Debian's python3 and venv, SpatiaLite (make peers)
set -euo pipefail
if [ "${1:-}" = miri ]; then
  toolchain=${MIRI_TOOLCHAIN:-nightly}
  # Installed only when missing: `rustup toolchain install` on an installed nightly updates it.
  if ! cargo "+$toolchain" miri --version >/dev/null 2>&1 ||
    ! rustup component list --toolchain "$toolchain" --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "installing: Rust $toolchain with miri"
    rustup toolchain install "$toolchain" --profile minimal --component miri,rust-src
  fi
  exit 0
fi
want=(libclang-dev libsqlite3-dev pkg-config)
case "${1:-build}" in
  test) want+=(sqlite3 python3 tcl libsqlite3-tcl libsqlite3-mod-spatialite) ;;
  valgrind) want+=(valgrind sqlite3 strace) ;;
  python-venv) want+=(python3-venv) ;;
  node) want+=(nodejs npm) ;;
  clients) want+=(golang-go golang-github-mattn-go-sqlite3-dev default-jdk-headless libxerial-sqlite-jdbc-java
    php-cli php-sqlite3 ruby ruby-sqlite3 libdbd-sqlite3-perl) ;;
  dpkg-dev) want+=(dpkg-dev) ;;
  qemu-user) want+=(qemu-user-static) ;;
  fuse) want+=(bindfs) ;;
  peers) want+=(python3 python3-venv libsqlite3-mod-spatialite) ;;
  sqlite-build) want+=(tcl-dev build-essential valgrind) ;;
esac
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
