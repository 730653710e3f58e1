"""walguard from Python's standard sqlite3 module (Debian's python3, system SQLite).

Run with Debian's interpreter: /usr/bin/python3 -m unittest discover -s tests/python
(pyenv's python3 is built without extension loading).
"""
import os
import sqlite3
import tempfile
import unittest

LIB = os.environ.get(
    "WALGUARD_LIB",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "libwalguard"),
)


def load_walguard():
    """Load once into a throwaway connection: every connection opened later is guarded."""
    loader = sqlite3.connect(":memory:")
    loader.enable_load_extension(True)
    loader.load_extension(LIB)
    loader.close()


def header(path):
    with open(path, "rb") as f:
        data = f.read(100)
    return data[18], data[19]


class WalguardFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        load_walguard()

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "app.db")
        conn = sqlite3.connect(self.path)
        self.assertEqual(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0], "wal")
        conn.execute("CREATE TABLE t(x INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO t VALUES(?)", [(i,) for i in range(1, 101)])
        conn.commit()
        conn.close()

    def tearDown(self):
        self.dir.cleanup()

    def assertIntact(self, conn, rows):
        self.assertEqual(conn.execute("SELECT count(*), sum(x) FROM t").fetchone(), (rows, rows * (rows + 1) // 2))
        self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")

    def test_the_seed_fallback_pattern_is_refused(self):
        # The pattern from the seed story: "WAL failed once, fall back to DELETE".
        conn = sqlite3.connect(self.path)
        with self.assertRaises(sqlite3.OperationalError) as caught:
            conn.execute("PRAGMA journal_mode=DELETE")
        message = str(caught.exception)
        self.assertTrue(message.startswith("walguard: refused journal_mode=DELETE on '"), message)
        self.assertIn(os.path.realpath(self.path), message)
        self.assertIn("walguard=off", message)
        self.assertEqual(header(self.path), (2, 2))
        conn.execute("INSERT INTO t VALUES(101)")
        conn.commit()
        self.assertIntact(conn, 101)
        self.assertEqual(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal")

    def test_every_rollback_mode_is_refused(self):
        conn = sqlite3.connect(self.path)
        for mode in ["delete", "TRUNCATE", "persist", "memory", "off", "d", "t", "'De'"]:
            with self.subTest(mode=mode), self.assertRaisesRegex(sqlite3.OperationalError, "^walguard: refused"):
                conn.execute(f"PRAGMA journal_mode={mode}")
        self.assertEqual(header(self.path), (2, 2))
        self.assertIntact(conn, 100)

    def test_attached_wal_database_is_refused_at_the_header(self):
        conn = sqlite3.connect(os.path.join(self.dir.name, "main.db"))
        conn.execute("ATTACH ? AS aux", (self.path,))
        with self.assertRaisesRegex(sqlite3.OperationalError, "disk I/O error"):
            conn.execute("PRAGMA journal_mode=DELETE").fetchall()
        self.assertEqual(header(self.path), (2, 2))
        conn.execute("INSERT INTO aux.t VALUES(101)")
        conn.commit()
        self.assertEqual(conn.execute("SELECT count(*) FROM aux.t").fetchone()[0], 101)

    def test_deliberate_conversion_with_walguard_off(self):
        uri = "file:" + self.path + "?walguard=off"
        conn = sqlite3.connect(uri, uri=True)
        self.assertEqual(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0], "delete")
        self.assertEqual(header(self.path), (1, 1))
        self.assertIntact(conn, 100)

    def test_legitimate_work_is_untouched(self):
        conn = sqlite3.connect(self.path)
        conn.executemany("INSERT INTO t VALUES(?)", [(i,) for i in range(101, 1001)])
        conn.commit()
        self.assertEqual(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0], 0)
        conn.execute("VACUUM")
        self.assertIntact(conn, 1000)
        self.assertEqual(header(self.path), (2, 2))
        fresh = sqlite3.connect(os.path.join(self.dir.name, "fresh.db"))
        self.assertEqual(fresh.execute("PRAGMA journal_mode=DELETE").fetchone()[0], "delete")

    def test_the_loading_connection_is_guarded(self):
        # Connect first, then load into that connection: its files are adopted, and a database
        # it ATTACHes afterwards is guarded too (walguard answers to the name of its VFS). In a
        # child process: in this one walguard is loaded already, and answers to every name.
        import subprocess
        import sys
        aux, later = (os.path.join(self.dir.name, n) for n in ("aux.db", "later.db"))
        for path in (aux, later):
            other = sqlite3.connect(path)
            other.execute("PRAGMA journal_mode=WAL")
            other.execute("CREATE TABLE a(x)")
            other.commit()
            other.close()
        script = """
import sqlite3, sys
lib, main, aux, later = sys.argv[1:]
conn = sqlite3.connect(main)
conn.execute("ATTACH ? AS aux", (aux,))
print("before", conn.execute("PRAGMA walguard").fetchall())
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.execute("ATTACH ? AS later", (later,))
for schema in ("main", "aux", "later"):
    print(schema, conn.execute(f"PRAGMA {schema}.walguard").fetchall())
for sql in ("PRAGMA journal_mode=DELETE", "PRAGMA aux.journal_mode=OFF", "PRAGMA later.journal_mode=TRUNCATE"):
    try:
        conn.execute(sql)
        print("not refused")
    except sqlite3.OperationalError as e:
        print(str(e).split(" on ")[0])
conn.execute("INSERT INTO t VALUES(101)")
conn.commit()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("VACUUM")
print(conn.execute("SELECT count(*), sum(x) FROM t").fetchone(), conn.execute("PRAGMA integrity_check").fetchone()[0])
"""
        out = subprocess.run([sys.executable, "-c", script, LIB, self.path, aux, later], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines(), [
            "before []",
            "main [('enforce',)]",
            "aux [('enforce',)]",
            "later [('enforce',)]",
            "walguard: refused journal_mode=DELETE",
            "walguard: refused journal_mode=OFF",
            "walguard: refused journal_mode=TRUNCATE",
            "(101, 5151) ok",
        ])
        self.assertEqual((header(self.path), header(aux), header(later)), ((2, 2), (2, 2), (2, 2)))
        reopened = sqlite3.connect(self.path)
        self.assertIntact(reopened, 101)

    def test_where_sqlite_stays_in_wal_walguard_answers_as_sqlite(self):
        # Inside a write transaction SQLite answers the current mode; walguard does not refuse.
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES(101)")
        self.assertEqual(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0], "wal")
        conn.execute("ROLLBACK")
        # Inside a read transaction: SQLite's own error, not walguard's.
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM t").fetchone()
        with self.assertRaisesRegex(sqlite3.OperationalError, "^cannot change out of wal mode from within a transaction"):
            conn.execute("PRAGMA journal_mode=DELETE").fetchall()
        conn.execute("ROLLBACK")
        conn.close()
        # An immutable open: SQLite answers and writes nothing.
        imm = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True)
        self.assertEqual(imm.execute("PRAGMA journal_mode=DELETE").fetchone()[0], "delete")
        imm.close()
        # A read-only open: SQLite's own I/O error at step.
        ro = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        with self.assertRaisesRegex(sqlite3.OperationalError, "^disk I/O error"):
            ro.execute("PRAGMA journal_mode=DELETE").fetchall()
        ro.close()
        self.assertEqual(header(self.path), (2, 2))

    def test_a_second_copy_from_another_path_defers_to_the_first(self):
        # The pip package's copy next to the installed one: same file name, other directory.
        import shutil
        copy_dir = os.path.join(self.dir.name, "copy")
        os.mkdir(copy_dir)
        copy = shutil.copy(os.path.realpath(LIB + ".so"), os.path.join(copy_dir, "libwalguard.so"))
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        self.assertIntact(conn, 100)  # a WAL file open and read before the second load
        before = conn.execute("SELECT walguard_status()").fetchone()[0]
        conn.enable_load_extension(True)
        conn.load_extension(copy)
        other = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        for c in (conn, other):
            self.assertEqual(c.execute("PRAGMA walguard").fetchall(), [("enforce",)])
        conn.execute("INSERT INTO t VALUES(101)")
        other.execute("INSERT INTO t VALUES(102)")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with self.assertRaisesRegex(sqlite3.OperationalError, "^walguard: refused journal_mode=DELETE"):
            conn.execute("PRAGMA journal_mode=DELETE")
        after = [c.execute("SELECT walguard_status()").fetchone()[0] for c in (conn, other)]
        self.assertEqual(after[0], after[1], "one truth, from the copy in charge")
        self.assertNotEqual(before, after[0], "the refusal was counted by the copy in charge")
        self.assertIntact(conn, 102)
        conn.close()
        other.close()
        self.assertEqual(header(self.path), (2, 2))

    def test_a_second_copy_guards_what_no_copy_guards_yet(self):
        # A connection opened before any copy was loaded, then loading a second copy (the
        # wheel's, while the installed one is in charge): its files get guarded all the same.
        import shutil
        import subprocess
        import sys
        copy_dir = os.path.join(self.dir.name, "copy")
        os.mkdir(copy_dir)
        copy = shutil.copy(os.path.realpath(LIB + ".so"), os.path.join(copy_dir, "libwalguard.so"))
        script = """
import sqlite3, sys
early = sqlite3.connect(sys.argv[3], isolation_level=None)
early.execute("SELECT count(*) FROM t").fetchone()
first = sqlite3.connect(":memory:"); first.enable_load_extension(True); first.load_extension(sys.argv[1])
early.enable_load_extension(True); early.load_extension(sys.argv[2])
print(early.execute("PRAGMA walguard").fetchall())
try:
    early.execute("PRAGMA journal_mode=DELETE")
    print("not refused")
except sqlite3.OperationalError as e:
    print(str(e).split(" on ")[0])
"""
        out = subprocess.run([sys.executable, "-c", script, LIB, copy, self.path], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines(), ["[('enforce',)]", "walguard: refused journal_mode=DELETE"])
        self.assertEqual(header(self.path), (2, 2))

    def test_spatialite_loaded_after_walguard(self):
        # SpatiaLite's PROJ opens proj.db through a wrapper of the default VFS (walguard) that
        # replaces the file's pMethods with its own copy of walguard's table. It ran in a child
        # process: a crash there must fail this test, not end the test run.
        import subprocess
        import sys
        script = """
import sqlite3, sys
b = sqlite3.connect(":memory:"); b.enable_load_extension(True); b.load_extension(sys.argv[1]); b.close()
c = sqlite3.connect(sys.argv[2], isolation_level=None); c.enable_load_extension(True)
c.load_extension("mod_spatialite")
c.execute("SELECT InitSpatialMetadata(1)")
c.execute("CREATE TABLE places(id INTEGER PRIMARY KEY, name TEXT)")
c.execute("SELECT AddGeometryColumn('places', 'geom', 4326, 'POINT', 'XY')")
c.execute("INSERT INTO places(name, geom) VALUES('a', MakePoint(1, 2, 4326))")
print(c.execute("SELECT AsText(Transform(geom, 3857)) FROM places").fetchone()[0])
print(c.execute("PRAGMA walguard").fetchone()[0])
try:
    c.execute("PRAGMA journal_mode=DELETE")
    print("not refused")
except sqlite3.OperationalError as e:
    print(str(e).split(" on ")[0])
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(c.execute("PRAGMA integrity_check").fetchone()[0])
"""
        out = subprocess.run([sys.executable, "-c", script, LIB, self.path], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines(),
                         ["POINT(111319.490793 222684.208506)", "enforce", "walguard: refused journal_mode=DELETE", "ok"])
        self.assertEqual(header(self.path), (2, 2))


if __name__ == "__main__":
    unittest.main()
