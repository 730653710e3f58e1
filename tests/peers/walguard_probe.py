"""pytest plugin loaded into every peer-suite run (`-p walguard_probe`): proves, from inside the
very interpreter that runs the suite, whether walguard is loaded into its stdlib sqlite3.

At the start of the session and again at its end it opens a new connection to a file of its
own, makes it WAL and asks `PRAGMA walguard` (a row when the file is opened through walguard,
none otherwise), then tries `PRAGMA journal_mode=DELETE` (refused when guarded); around that it
reads `walguard_status()`, the process's counters, so that the run can tell what walguard
refused during the suite itself. The result goes as JSON to
$WALGUARD_PEERS_PROBE; tests/peers/run.py checks it against the mode of the run.
"""
import json
import os
import sqlite3
import tempfile


def _status(conn):
    try:
        return json.loads(conn.execute("SELECT walguard_status()").fetchone()[0])
    except sqlite3.Error:  # no such function: walguard is not loaded
        return None


def _probe():
    result = {"sqlite_version": sqlite3.sqlite_version}
    with tempfile.TemporaryDirectory(prefix="walguard-probe-") as directory:
        conn = sqlite3.connect(os.path.join(directory, "probe.db"), isolation_level=None)
        try:
            conn.execute("CREATE TABLE t(x)")
            result["wal"] = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            row = conn.execute("PRAGMA walguard").fetchone()
            result["pragma_walguard"] = row[0] if row else None
            result["status_before"] = _status(conn)
            try:
                result["downgrade"] = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            except sqlite3.Error as error:
                result["downgrade"] = f"refused: {error}"
            result["status_after"] = _status(conn)
        finally:
            conn.close()
    return result


_results = {}


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        _results["start"] = _probe()


def pytest_unconfigure(config):
    path = os.environ.get("WALGUARD_PEERS_PROBE")
    if not path or "start" not in _results:
        return
    _results["end"] = _probe()
    with open(path, "w") as out:
        json.dump(_results, out, indent=1)
