# An application on APSW (its own, bundled SQLite) that knows nothing of walguard.
import apsw

conn = apsw.Connection("app.db")
print(conn.execute("PRAGMA walguard").fetchall(), conn.execute("SELECT count(*) FROM t").get)
