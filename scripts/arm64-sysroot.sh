#!/usr/bin/env bash
# Prints the path of a Debian arm64 tree (.deps/arm64-sysroot) for running the aarch64 release
# binaries under qemu-user (`qemu-aarch64-static -L TREE`): Debian's arm64 sqlite3 shell and
# libsqlite3-0, its python3.11 (stdlib sqlite3), and what they link. Built once, without
# touching the machine's dpkg: apt downloads the .debs with its own state in
# .deps/arm64-apt (this machine's Debian mirror and release, architecture arm64), and
# `dpkg-deb -x` unpacks them into the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/.deps/arm64-sysroot
packages=(libc6 libgcc-s1 zlib1g libtinfo6 libreadline8 libsqlite3-0 sqlite3 libexpat1
  libpython3.11-minimal python3.11-minimal libpython3.11-stdlib libffi8 libbz2-1.0 liblzma5 libuuid1
  libncursesw6 libcrypt1)
stamp=$root/.complete-$(printf '%s\n' "${packages[@]}" | md5sum | cut -c1-12)
if [ -e "$stamp" ]; then
  echo "$root"
  exit 0
fi
echo "building the arm64 tree .deps/arm64-sysroot (Debian's arm64 packages, unpacked)" >&2
apt_dir=$PWD/.deps/arm64-apt
rm -rf "$root" "$apt_dir"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$root"
. /etc/os-release
# This machine's main Debian archive: the URI of the deb822 stanza (or the one-line entry)
# that serves its release's main component.
mirror=$(awk -v rel="$VERSION_CODENAME" '
  /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == rel) ok = 1 }
  /^$/ { if (ok && uri) { print uri; exit } ok = 0; uri = "" }
  END { if (ok && uri) print uri }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
if [ -z "$mirror" ]; then
  mirror=$(awk -v rel="$VERSION_CODENAME" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) == rel) print $i; break } }' \
    /etc/apt/sources.list 2>/dev/null | head -1)
fi
[ -n "$mirror" ] || { echo "no Debian mirror for $VERSION_CODENAME in /etc/apt/sources.list*" >&2; exit 1; }
sources="deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $VERSION_CODENAME main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $VERSION_CODENAME-updates main"
echo "$sources" > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/none"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::Status=$apt_dir/status"
  -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root")
: > "$apt_dir/status"
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]}" >&2)
for deb in "$apt_dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$root"
done
# Debian 12's packages put the libraries in /lib/aarch64-linux-gnu; the dynamic loader is
# found through /lib/ld-linux-aarch64.so.1, which libc6 ships as a link.
[ -e "$root/lib/ld-linux-aarch64.so.1" ] || { echo "arm64 tree: no dynamic loader" >&2; exit 1; }
touch "$stamp"
rm -rf "$apt_dir"
echo "$root"
