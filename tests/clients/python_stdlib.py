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

# A downgrade the pragma's check never sees: main is another database (:memory: here) and
# app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
# The first connection is closed first: with it open, SQLite itself refuses (database is locked).
conn.close()
other = sqlite3.connect(":memory:")
other.execute("ATTACH 'app.db' AS app")
try:
    other.execute("PRAGMA journal_mode=DELETE")
    print("no error")  # the failed commit is reported only to a next step, never taken
except sqlite3.Error as error:
    print(f"{type(error).__name__}: {error}")
other.close()
with open("app.db", "rb") as file:
    header = file.read(20)
print(f"header bytes 18,19: {header[18]},{header[19]}")  # 2,2: still WAL
