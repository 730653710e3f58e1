import apsw

# Load once, into any connection: every connection opened afterwards is guarded.
loader = apsw.Connection(":memory:")
loader.enable_load_extension(True)
loader.load_extension("./libwalguard")

conn = apsw.Connection("app.db")
print(conn.execute("PRAGMA journal_mode=WAL").get)
try:
    conn.execute("PRAGMA journal_mode=DELETE")  # the "fallback" that corrupts shared databases
except apsw.SQLError as error:
    print(error.args[0])  # walguard: refused journal_mode=DELETE on '/path/app.db': ...
conn.execute("INSERT INTO t VALUES (4)")
print(conn.execute("SELECT count(*) FROM t").get)
print(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
