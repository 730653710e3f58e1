"""What docs/policies.md says a process is told under each policy, from Python's sqlite3.

Each case runs in its own interpreter (Debian's python3), since WALGUARD_POLICY is read when
walguard loads.
"""
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

LIB = os.environ.get(
    "WALGUARD_LIB",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "libwalguard"),
)

# A tool that converts on purpose and then copies the database as one file.
CONVERT_THEN_COPY = textwrap.dedent("""
    import json, shutil, sqlite3, sys
    loader = sqlite3.connect(":memory:")
    loader.enable_load_extension(True)
    loader.load_extension(sys.argv[1])
    conn = sqlite3.connect("app.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1), (2), (3)")
    try:
        answer = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as error:
        answer = f"error: {error}"
    shutil.copyfile("app.db", "copy.db")  # the main file only: what a DELETE-mode file would be
    print(json.dumps({
        "answer": answer,
        "mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
        "kept": json.loads(conn.execute("SELECT walguard_status()").fetchone()[0])["kept"],
        "rows": conn.execute("SELECT count(*) FROM t").fetchone()[0],
        "copy_tables": sqlite3.connect("copy.db").execute("SELECT count(*) FROM sqlite_master").fetchone()[0],
    }))
""")


def run(policy):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, WALGUARD_POLICY=policy)
        done = subprocess.run(["/usr/bin/python3", "-c", CONVERT_THEN_COPY, LIB], cwd=work, env=env,
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        with open(os.path.join(work, "app.db"), "rb") as f:
            header = f.read(20)[18:20]
        return json.loads(done.stdout), tuple(header)


class PoliciesForATool(unittest.TestCase):
    def test_keep_tells_a_converting_tool_wal_and_its_copy_misses_the_wal(self):
        result, header = run("keep")
        self.assertEqual(result["answer"], "wal")
        self.assertEqual((result["mode"], result["kept"], result["rows"]), ("wal", 1, 3))
        self.assertEqual(header, (2, 2))
        # The table and its rows are still in app.db-wal: the copy of app.db alone has nothing.
        self.assertEqual(result["copy_tables"], 0)

    def test_enforce_stops_a_converting_tool_with_the_way_to_convert(self):
        result, header = run("enforce")
        self.assertTrue(result["answer"].startswith("error: walguard: refused journal_mode=DELETE on '"), result["answer"])
        self.assertIn("walguard=off", result["answer"])
        self.assertEqual((result["mode"], result["kept"], result["rows"]), ("wal", 0, 3))
        self.assertEqual(header, (2, 2))


if __name__ == "__main__":
    unittest.main()
