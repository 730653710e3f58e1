#!/usr/bin/env bash
# make release: every release artifact of the workspace version, for x86_64 and aarch64 Linux,
# linked against glibc 2.17 (manylinux2014's floor) by zig through cargo-zigbuild, into release/:
#   walguard-VERSION-linux-ARCH.tar.gz   the three binaries, the systemd unit, LICENSE, README,
#                                        CHANGELOG
#   sqlite_walguard-VERSION-py3-none-manylinux_2_17_ARCH.manylinux2014_ARCH.whl
#   sqlite-walguard-VERSION.tgz          the npm package, both architectures' libraries in it
#   walguard_VERSION_DEBARCH.deb         amd64 and arm64
#   SHA256SUMS
# The tools (zig, cargo-zigbuild, the aarch64 standard library) are installed when missing by
# scripts/ensure-release-tools.sh. make test-release checks every artifact.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$(scripts/ensure-release-tools.sh)
export PATH="$tools:$PATH"
version=$(scripts/version.sh)
# Reproducible archives: every file dated at the last commit.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
out=$root/release
stage=$root/build/release-stage
rm -rf "$out" "$stage"
mkdir -p "$out" "$stage" build
# The host tests' SQLite flags (Makefile) are not the holder's.
unset LIBSQLITE3_FLAGS

# cargo runs from build/, not the repository root: zig reports its library directory relative
# to the working directory when it lies under it (.deps/release/...), and cargo-zigbuild hands
# that path to bindgen, which runs in another directory. Cargo still finds .cargo/config.toml
# (it searches upwards from build/).
zigbuild() { (cd "$root/build" && env "${cross[@]}" nice -n "${NICE:-10}" cargo zigbuild --manifest-path ../Cargo.toml --release "$@"); }
host=$(rustc -vV | sed -n 's/^host: //p')

for arch in x86_64 aarch64; do
  target=$arch-unknown-linux-gnu
  echo "== building for $target, glibc 2.17"
  # Cross builds read scripts/bindgen-cross/stdarg.h first (see there why); bindgen takes the
  # variable under both spellings of the target and cargo-zigbuild adds its own to each.
  cross=()
  if [ "$target" != "$host" ]; then
    cross=("BINDGEN_EXTRA_CLANG_ARGS_$target=-isystem $root/scripts/bindgen-cross"
      "BINDGEN_EXTRA_CLANG_ARGS_${target//-/_}=-isystem $root/scripts/bindgen-cross")
  fi
  zigbuild --target "$target.2.17" -p walguard -p walguard-preload
  # Its own invocation, as in the Makefile; `bundled`: see hold/Cargo.toml.
  zigbuild --target "$target.2.17" -p walguard-hold --features walguard-hold/bundled
  bin=$root/target/$target/release
  case $arch in x86_64) deb_arch=amd64 npm_arch=x64 ;; aarch64) deb_arch=arm64 npm_arch=arm64 ;; esac

  # The archive.
  name=walguard-$version-linux-$arch
  mkdir -p "$stage/$name"
  install -m 755 "$bin/libwalguard.so" "$bin/libwalguard_preload.so" "$bin/walguard-hold" "$stage/$name/"
  sed 's|@BINDIR@|/usr/local/bin|g' hold/deploy/walguard-hold@.service > "$stage/$name/walguard-hold@.service"
  install -m 644 LICENSE README.md CHANGELOG.md "$stage/$name/"
  chmod 644 "$stage/$name/walguard-hold@.service"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -cf - "$name" | gzip -9n > "$out/$name.tar.gz"

  # The wheel: manylinux2014 is glibc 2.17 and the libraries it may link (libc, libpthread,
  # libdl, ld.so here), which `auditwheel show` confirms in make test-release.
  /usr/bin/python3 packages/build_wheel.py "$bin/libwalguard.so" "$out" \
    --plat "manylinux_2_17_$arch.manylinux2014_$arch" --version "$version" >/dev/null

  # The npm package's library for this architecture (packed after the loop).
  mkdir -p "$stage/npm/lib/linux-$npm_arch"
  install -m 755 "$bin/libwalguard.so" "$stage/npm/lib/linux-$npm_arch/libwalguard.so"

  # The .deb: exactly the layout of `make install PREFIX=/usr` (libraries in /usr/lib, where the
  # dynamic loader looks and where sitecustomize.py and walguard.php expect them).
  pkg=$stage/deb-$deb_arch
  libdir=$pkg/usr/lib
  install -d "$libdir" "$pkg/usr/bin" "$pkg/usr/lib/systemd/system" "$pkg/usr/share/walguard/python" \
    "$pkg/usr/share/walguard/php" "$pkg/usr/share/doc/walguard" "$pkg/DEBIAN"
  install -m 644 "$bin/libwalguard.so" "$bin/libwalguard_preload.so" "$libdir/"
  ln -s libwalguard.so "$libdir/walguard.so"
  install -m 755 "$bin/walguard-hold" "$pkg/usr/bin/"
  sed 's|@BINDIR@|/usr/bin|g' hold/deploy/walguard-hold@.service > "$pkg/usr/lib/systemd/system/walguard-hold@.service"
  install -m 644 packages/sitecustomize/sitecustomize.py "$pkg/usr/share/walguard/python/"
  install -m 644 packages/php/walguard.php "$pkg/usr/share/walguard/php/"
  install -m 644 README.md CHANGELOG.md "$pkg/usr/share/doc/walguard/"
  # Debian keeps the license as the package's copyright file.
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: walguard"
    echo
    echo "Files: *"
    echo "Copyright: walguard contributors"
    echo "License: MIT"
    sed -e 's/^$/./' -e 's/^/ /' LICENSE
  } > "$pkg/usr/share/doc/walguard/copyright"
  chmod 644 "$pkg/usr/lib/systemd/system/walguard-hold@.service" "$pkg/usr/share/doc/walguard/copyright"
  size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
  cat > "$pkg/DEBIAN/control" <<EOF
Package: walguard
Version: $version
Architecture: $deb_arch
Maintainer: walguard contributors <walguard@users.noreply.invalid>
Installed-Size: $size
Depends: libc6 (>= 2.17)
Recommends: libsqlite3-0 (>= 3.31.1)
Section: database
Priority: optional
Description: SQLite extension that refuses WAL -> rollback-journal downgrades
 libwalguard.so, a SQLite loadable extension (a VFS shim) that refuses any change of a WAL
 database back to a rollback-journal mode; libwalguard_preload.so, which guards every
 process using the shared libsqlite3 through LD_PRELOAD; walguard-hold and its systemd
 template unit, which keep a database in WAL against processes that never load walguard.
EOF
  # ldconfig after install and removal, through dpkg's trigger.
  echo "activate-noawait ldconfig" > "$pkg/DEBIAN/triggers"
  (cd "$pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/walguard_${version}_$deb_arch.deb" >/dev/null
done

# The npm package: one package with both libraries, index.js picking by process.arch (see
# packages/npm/index.js for why not one package per platform).
npm_stage=$stage/npm
cp packages/npm/*.js packages/npm/index.d.ts packages/npm/README.md LICENSE "$npm_stage/"
/usr/bin/python3 - "$version" packages/npm/package.json "$npm_stage/package.json" <<'PY'
import json, sys
version, src, dst = sys.argv[1:]
package = json.load(open(src))
package["version"] = version
package["cpu"] = ["x64", "arm64"]
json.dump(package, open(dst, "w"), indent=2)
open(dst, "a").write("\n")
PY
(cd "$npm_stage" && npm pack --silent --pack-destination "$out" >/dev/null)

(cd "$out" && sha256sum -- * > SHA256SUMS)
rm -rf "$stage"
ls -l "$out"
