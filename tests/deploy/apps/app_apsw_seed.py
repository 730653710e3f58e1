# An application on APSW (its own, bundled SQLite) that also uses the standard library's
# sqlite3, knowing nothing of walguard: the seed's "fall back to DELETE" through APSW.
import sqlite3

import apsw

sqlite3.connect(":memory:").execute("SELECT 1")
conn = apsw.Connection("app.db")
try:
    print(conn.execute("PRAGMA journal_mode=DELETE").get)
except apsw.SQLError as error:
    print(error)
print(conn.execute("SELECT count(*) FROM t").get)
