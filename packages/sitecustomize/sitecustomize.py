"""walguard for every Python process that has this directory on its path.

Python imports ``sitecustomize`` at start-up, so a service started with
``PYTHONPATH=/usr/local/share/walguard/python`` (or with this file in site-packages) has
walguard loaded into the standard library's SQLite before its own code runs: every
connection it opens is guarded, with no change to the code.

The library is ``$WALGUARD_LIB``, or ``libwalguard.so`` in ``../../../lib`` (where
``make install`` puts both). ``WALGUARD_APSW=1`` also loads it into APSW's bundled SQLite
(from a private copy of the library when the standard library's SQLite already has it: one
copy serves one SQLite). A process whose ``sqlite3`` cannot load extensions gets a warning
on stderr, not a failure, and APSW is still tried.
"""
import os
import sys


def _walguard_library():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("WALGUARD_LIB") or os.path.normpath(os.path.join(here, "..", "..", "..", "lib", "libwalguard.so"))


def _private_copy(library):
    """The library's bytes in a memfd: a distinct object, with its own state. One copy of
    walguard serves one SQLite library per process, and APSW bundles its own SQLite."""
    fd = os.memfd_create("walguard")
    with open(library, "rb") as source:
        data = memoryview(source.read())
    while data:
        data = data[os.write(fd, data):]
    return f"/proc/self/fd/{fd}"  # the descriptor stays open for the life of the process


def _load_walguard():
    library = _walguard_library()
    stdlib_loaded = False
    try:
        import sqlite3

        conn = sqlite3.connect(":memory:")
        if not hasattr(conn, "enable_load_extension"):
            raise RuntimeError("this Python's sqlite3 module cannot load extensions")
        conn.enable_load_extension(True)
        conn.load_extension(library)
        conn.close()
        stdlib_loaded = True
    except Exception as error:  # never keep the service from starting
        print(f"walguard sitecustomize: SQLite is NOT guarded: {error}", file=sys.stderr)
    if os.environ.get("WALGUARD_APSW") == "1":
        try:
            import apsw

            loader = apsw.Connection(":memory:")
            loader.enable_load_extension(True)
            if stdlib_loaded:  # that copy belongs to the standard library's SQLite
                loader.load_extension(_private_copy(library), "sqlite3_walguard_init")
            else:
                loader.load_extension(library)
            loader.close()
        except Exception as error:
            print(f"walguard sitecustomize: APSW's SQLite is NOT guarded: {error}", file=sys.stderr)


_load_walguard()
