# An application that knows nothing of walguard: the seed's "fall back to DELETE".
import sqlite3

conn = sqlite3.connect("app.db")
try:
    print(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
except sqlite3.OperationalError as error:
    print(error)
print(conn.execute("SELECT count(*) FROM t").fetchone()[0])
