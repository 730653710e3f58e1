#!/usr/bin/env bash
# Prints the workspace version ([workspace.package] in Cargo.toml), the one version every
# artifact carries.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\([^"]*\)"$/\1/p' Cargo.toml)
[ -n "$v" ] || { echo "no version in Cargo.toml's [workspace.package]" >&2; exit 1; }
echo "$v"
