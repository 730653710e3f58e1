#!/usr/bin/env bash
# Installs what `make peers` needs, only when it is missing (a second run installs nothing):
#   Debian: python3, python3-venv, libsqlite3-mod-spatialite (sqlite-utils's GIS tests)
#   .deps/peers/sdist   the PyPI sdists of sqlite-utils, SQLAlchemy and diskcache
#   .deps/peers/src     the same, unpacked: their test suites run from here
#   .deps/peers/venv    a venv on Debian's /usr/bin/python3 with tests/peers/requirements.txt,
#                       the three projects built from those sdists
# .deps/peers/installed holds the requirements and constraints it was made from.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/peers
deps=.deps/peers
scripts/ensure-deps.sh peers

stamp="$(cat "$here/requirements.txt" "$here/build-constraints.txt")"
if [ -x "$deps/venv/bin/python" ] && [ "$(cat "$deps/installed" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

# name==version of the three projects, from requirements.txt.
projects=$(grep -iE '^(sqlite-utils|sqlalchemy|diskcache)==' "$here/requirements.txt")
echo "installing the peer suites into $deps: $(echo $projects)"
rm -rf "$deps" && mkdir -p "$deps/sdist" "$deps/src"
/usr/bin/python3 -m venv "$deps/venv"
pip=("$deps/venv/bin/pip" --disable-pip-version-check -q)
export PIP_CONSTRAINT=$PWD/$here/build-constraints.txt
for project in $projects; do  # the project's sdist (its build requirements may be wheels)
  "${pip[@]}" download --no-deps --no-binary "${project%%==*}" -d "$deps/sdist" "$project"
done
for archive in "$deps"/sdist/*.tar.gz; do
  tar -xzf "$archive" -C "$deps/src"
done
# The same sdist files, built here (SQLAlchemy with its Cython extensions, about 30 s).
"${pip[@]}" install --no-binary sqlite-utils,sqlalchemy,diskcache --use-pep517 \
  --find-links "$deps/sdist" -r "$here/requirements.txt"
"${pip[@]}" check
printf '%s' "$stamp" > "$deps/installed"
