#!/usr/bin/env python3
"""Build the sqlite-walguard wheel from the release library, with no build dependencies.

  packages/build_wheel.py LIBRARY DIST_DIR

A wheel is a zip with a .dist-info directory (PEP 427); the library is platform code, so
the wheel is tagged for this platform (py3-none-<platform>), like sqlite-vec's wheels.
"""
import base64
import hashlib
import os
import sys
import sysconfig
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NAME, IMPORT = "sqlite_walguard", "walguard"


def version():
    for line in open(os.path.join(HERE, "python", IMPORT, "__init__.py")):
        if line.startswith("__version__"):
            return line.split('"')[1]
    raise SystemExit("no __version__")


def main():
    library, dist = sys.argv[1], sys.argv[2]
    ver = version()
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"py3-none-{platform}"
    os.makedirs(dist, exist_ok=True)
    wheel = os.path.join(dist, f"{NAME}-{ver}-{tag}.whl")
    info = f"{NAME}-{ver}.dist-info"
    readme = open(os.path.join(HERE, "python", "README.md")).read()
    files = {
        f"{IMPORT}/__init__.py": open(os.path.join(HERE, "python", IMPORT, "__init__.py"), "rb").read(),
        f"{IMPORT}/{os.path.basename(library)}": open(library, "rb").read(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: sqlite-walguard\nVersion: {ver}\n"
            "Summary: SQLite extension that refuses WAL -> rollback journal downgrades\n"
            "License: MIT\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n" + readme
        ).encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: walguard build_wheel.py\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
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
