#!/usr/bin/env python3
"""Build the sqlite-walguard wheel from the release library, with no build dependencies.

  packages/build_wheel.py LIBRARY DIST_DIR [--plat PLATFORM_TAG] [--version VERSION]

A wheel is a zip with a .dist-info directory (PEP 427); the library is platform code, so
the wheel is tagged for one platform (py3-none-<platform>), like sqlite-vec's wheels: this
machine's (`make dist`), or the one --plat names (`make release`: manylinux2014, for a library
linked against glibc 2.17). The version is the workspace version of Cargo.toml unless
--version gives it; it is written into the packaged walguard/__init__.py as __version__.
LICENSE goes into the .dist-info directory.
"""
import argparse
import base64
import hashlib
import os
import sysconfig
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NAME, IMPORT = "sqlite_walguard", "walguard"


ROOT = os.path.dirname(HERE)


def workspace_version():
    import tomllib

    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def stamped_init(ver):
    """The package's __init__.py with ``__version__`` set to ``ver``."""
    lines = open(os.path.join(HERE, "python", IMPORT, "__init__.py")).read().splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith("__version__ = ")]
    if len(hits) != 1:
        raise SystemExit("walguard/__init__.py: expected one __version__ line")
    lines[hits[0]] = f'__version__ = "{ver}"\n'
    return "".join(lines).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("library")
    parser.add_argument("dist")
    parser.add_argument("--plat", default=sysconfig.get_platform().replace("-", "_").replace(".", "_"))
    parser.add_argument("--version", default=None)
    args = parser.parse_args()
    library, dist = args.library, args.dist
    ver = args.version or workspace_version()
    tag = f"py3-none-{args.plat}"
    os.makedirs(dist, exist_ok=True)
    wheel = os.path.join(dist, f"{NAME}-{ver}-{tag}.whl")
    info = f"{NAME}-{ver}.dist-info"
    readme = open(os.path.join(HERE, "python", "README.md")).read()
    files = {
        f"{IMPORT}/__init__.py": stamped_init(ver),
        f"{IMPORT}/{os.path.basename(library)}": open(library, "rb").read(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: sqlite-walguard\nVersion: {ver}\n"
            "Summary: SQLite extension that refuses WAL -> rollback journal downgrades\n"
            "License: MIT\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n" + readme
        ).encode(),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: walguard build_wheel.py\nRoot-Is-Purelib: false\n"
            + "".join(f"Tag: py3-none-{plat}\n" for plat in args.plat.split("."))
        ).encode(),
        f"{info}/LICENSE": open(os.path.join(ROOT, "LICENSE"), "rb").read(),
    }
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            info_entry = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info_entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            info_entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info_entry, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        z.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2026, 1, 1, 0, 0, 0)), "\n".join(record) + "\n")
    print(wheel)


main()
