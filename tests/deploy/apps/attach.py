# An application whose first connection ATTACHes the WAL database, then falls back.
import sqlite3

conn = sqlite3.connect("main.db")
conn.execute("ATTACH 'app.db' AS aux")
try:
    print(conn.execute("PRAGMA aux.journal_mode=DELETE").fetchone()[0])
except sqlite3.OperationalError as error:
    print(error)
print(conn.execute("SELECT count(*) FROM aux.t").fetchone()[0])
