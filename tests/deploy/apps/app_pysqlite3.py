# An application on pysqlite3-binary (a bundled SQLite that exports its API from a module
# Python loads privately), knowing nothing of walguard. With the argument "stdlib-first",
# the standard library's sqlite3 (the system libsqlite3) opens a connection before it.
import sys

if sys.argv[1:] == ["stdlib-first"]:
    import sqlite3

    sqlite3.connect(":memory:").execute("SELECT 1")
from pysqlite3 import dbapi2 as sqlite3

conn = sqlite3.connect("app.db")
try:
    print(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
except sqlite3.OperationalError as error:
    print(error)
print(conn.execute("SELECT count(*) FROM t").fetchone()[0])
