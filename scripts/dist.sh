#!/usr/bin/env bash
# make dist: the Python wheel and the npm tarball for this machine, both carrying
# ./libwalguard.so, in dist/, at the workspace version (make release builds the published ones).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(scripts/version.sh)
arch=$(node -p process.arch)
rm -rf dist build/npm-stage
mkdir -p dist "build/npm-stage/lib/linux-$arch"
/usr/bin/python3 packages/build_wheel.py libwalguard.so dist >/dev/null
cp packages/npm/*.js packages/npm/index.d.ts packages/npm/README.md LICENSE build/npm-stage/
/usr/bin/python3 - "$version" "$arch" packages/npm/package.json build/npm-stage/package.json <<'PY'
import json, sys
version, arch, src, dst = sys.argv[1:]
package = json.load(open(src))
package["version"], package["cpu"] = version, [arch]
json.dump(package, open(dst, "w"), indent=2)
open(dst, "a").write("\n")
PY
cp libwalguard.so "build/npm-stage/lib/linux-$arch/"
(cd build/npm-stage && npm pack --silent --pack-destination ../../dist >/dev/null)
ls dist
