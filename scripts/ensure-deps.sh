#!/usr/bin/env bash
# Installs what building and testing walguard needs, only when it is missing.
#   scripts/ensure-deps.sh build   libclang + sqlite3.h (bindgen reads the system header)
#   scripts/ensure-deps.sh test    + the sqlite3 shell, Debian's python3, Tcl's sqlite3
#   scripts/ensure-deps.sh valgrind  + valgrind
#   scripts/ensure-deps.sh clients   the Go, Java, PHP, Ruby and Perl clients (tests/clients/run.sh)
set -euo pipefail
want=(libclang-dev libsqlite3-dev pkg-config)
case "${1:-build}" in
  test) want+=(sqlite3 python3 tcl libsqlite3-tcl libsqlite3-mod-spatialite) ;;
  valgrind) want+=(valgrind sqlite3 strace) ;;
  python-venv) want+=(python3-venv) ;;
  node) want+=(nodejs npm) ;;
  clients) want+=(golang-go golang-github-mattn-go-sqlite3-dev default-jdk-headless libxerial-sqlite-jdbc-java
    php-cli php-sqlite3 ruby ruby-sqlite3 libdbd-sqlite3-perl) ;;
  dpkg-dev) want+=(dpkg-dev) ;;
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
