# Stands in for apport's hook, which Debian's own sitecustomize (/usr/lib/python3.X/sitecustomize.py)
# imports and installs when it is importable: a line on stderr shows that sitecustomize ran.
# With CHAIN_RAISE=1 its install() raises, as a broken sitecustomize would; with
# CHAIN_DOWNGRADE=1 it runs the seed's fallback on app.db first, to show that what Debian's
# sitecustomize runs is guarded.
import os
import sys


def install():
    print("apport hook installed by Debian's sitecustomize", file=sys.stderr)
    if os.environ.get("CHAIN_DOWNGRADE") == "1":
        import sqlite3

        try:
            print("the hook's fallback:", sqlite3.connect("app.db").execute("PRAGMA journal_mode=DELETE").fetchone()[0])
        except sqlite3.OperationalError as error:
            print("the hook's fallback:", error)
    if os.environ.get("CHAIN_RAISE") == "1":
        raise RuntimeError("the apport hook failed")
