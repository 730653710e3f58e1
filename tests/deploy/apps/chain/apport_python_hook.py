# Stands in for apport's hook, which Debian's own sitecustomize (/usr/lib/python3.X/sitecustomize.py)
# imports and installs when it is importable: a line on stderr shows that sitecustomize ran.
# With CHAIN_RAISE=1 its install() raises, as a broken sitecustomize would.
import os
import sys


def install():
    print("apport hook installed by Debian's sitecustomize", file=sys.stderr)
    if os.environ.get("CHAIN_RAISE") == "1":
        raise RuntimeError("the apport hook failed")
