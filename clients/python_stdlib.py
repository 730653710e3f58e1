import sqlite3

# Load once, into any connection: every connection opened afterwards is guarded.
loader = sqlite3.connect(":memory:")
loader.enable_load_extension(True)
loader.load_extension("./libwalguard")

conn = sqlite3.connect("app.db")
print(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
try:
    conn.execute("PRAGMA journal_mode=DELETE")  # the "fallback" that corrupts shared databases
except sqlite3.OperationalError as error:
    print(error)  # walguard: refused journal_mode=DELETE on '/path/app.db': ...
conn.execute("INSERT INTO t VALUES (4)")
conn.commit()
print(conn.execute("SELECT count(*) FROM t").fetchone()[0])
print(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
