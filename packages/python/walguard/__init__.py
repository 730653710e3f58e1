"""walguard for Python: load the SQLite extension that refuses WAL -> rollback downgrades.

    import walguard
    walguard.load()                      # every connection opened afterwards is guarded
    conn = sqlite3.connect("app.db")

Works with the standard library's sqlite3 (when the interpreter was built with extension
loading) and with APSW.
"""
import os

# Written from Cargo.toml's workspace version into the wheel by packages/build_wheel.py.
__version__ = "0.1.0"


def loadable_path():
    """The path of the libwalguard shared library shipped in this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "libwalguard.so")


def load(conn=None):
    """Load walguard into ``conn`` (a ``sqlite3.Connection`` or an ``apsw.Connection``).

    Without a connection, it is loaded into a throwaway ``:memory:`` connection of the
    standard library. Either way walguard becomes the default VFS of that SQLite library, so
    every connection opened afterwards is guarded; the files ``conn`` already has open are
    guarded too. Raises ``RuntimeError`` when extensions cannot be loaded.
    """
    if conn is None:
        import sqlite3

        conn = sqlite3.connect(":memory:")
        try:
            load(conn)
        finally:
            conn.close()
        return
    if not hasattr(conn, "enable_load_extension"):
        raise RuntimeError(
            "walguard: this Python's sqlite3 module cannot load extensions (it was built without "
            "--enable-loadable-sqlite-extensions). Use a Python that can (Debian's /usr/bin/python3 "
            "does), or APSW: pip install apsw, then walguard.load(apsw.Connection(':memory:'))."
        )
    conn.enable_load_extension(True)
    try:
        conn.load_extension(loadable_path())
    finally:
        if type(conn).__module__.split(".")[0] != "apsw":
            conn.enable_load_extension(False)
