#!/usr/bin/env bash
# make dist: the Python wheel and the npm tarball, both carrying ./libwalguard.so, in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist build/npm-stage
mkdir -p dist build/npm-stage/lib
/usr/bin/python3 packages/build_wheel.py libwalguard.so dist >/dev/null
cp packages/npm/package.json packages/npm/*.js packages/npm/index.d.ts packages/npm/README.md build/npm-stage/
cp libwalguard.so build/npm-stage/lib/
(cd build/npm-stage && npm pack --silent --pack-destination ../../dist >/dev/null)
ls dist
