#!/usr/bin/env python3
"""walguard-hold against clients that never load walguard.

  /usr/bin/python3 tests/hold/test_hold.py

With a holder running, unguarded clients (the sqlite3 shell, Debian's python3 stdlib sqlite3,
Tcl, APSW and better-sqlite3 when .deps has them) try every rollback mode: each must fail
with "database is locked", the header must stay 2,2 and their writes must still work.
Checkpoints of every mode still run, TRUNCATE truncates, the last other connection's close
no longer deletes the -wal, locking_mode=EXCLUSIVE writers get SQLITE_BUSY. The controls
show each check can fail: after SIGKILL of the holder (or without one) the downgrade goes
through and the -wal is deleted. Then: replaced and deleted files, --ensure-wal, files it
will not hold, --status, SIGTERM/SIGINT, the systemd unit.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# WALGUARD_HOLD: another build of it (make test-release runs this file against the release's).
HOLD = os.environ.get("WALGUARD_HOLD") or os.path.join(ROOT, "walguard-hold")
APSW = os.path.join(ROOT, ".deps", "venv", "bin", "python")
NODE_MODULES = os.path.join(ROOT, ".deps", "node", "node_modules")
MODES = ["delete", "truncate", "persist", "memory", "off"]
INTERVAL = "0.1"

passed, failed, skipped = 0, 0, []
LOGS = None  # the holders' logs go to the test's work directory


def check(name, ok, *detail):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}")
        for d in detail:
            print(f"     {d}")


def header(path):
    with open(path, "rb") as f:
        data = f.read(20)
    return (data[18], data[19]) if len(data) == 20 else None


def wal_db(path, rows=3):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT)")
    c.executemany("INSERT INTO t(who) VALUES (?)", [("setup",)] * rows)
    c.close()


def count(path):
    c = sqlite3.connect(path)
    n = c.execute("SELECT count(*) FROM t").fetchone()[0]
    c.close()
    return n


class Holder:
    """A walguard-hold process and its log."""

    def __init__(self, *args, wait_for=None):
        self.log_path = tempfile.mktemp(prefix="walguard-hold.", suffix=".log", dir=LOGS)
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([HOLD, "--interval", INTERVAL, *args], stderr=self.log_file)
        if wait_for is not None and not self.wait_log(wait_for):
            check(f"walguard-hold {' '.join(args)} logs {wait_for!r}", False, *self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read().splitlines()

    def wait_log(self, text, n=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(text in line for line in self.log()) >= n:
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=10)
        self.log_file.close()
        return code


def status(*paths):
    r = subprocess.run([HOLD, "--status", *paths], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


# Each client: (name, argv prefix, script) run as argv + [db, mode]; prints "error <msg>" or
# "switched <mode>", then "write ok" after an INSERT.
PY = """
import sqlite3, sys
db, mode = sys.argv[1:3]
c = sqlite3.connect(db, isolation_level=None)
try:
    print("switched", c.execute(f"PRAGMA journal_mode={mode}").fetchone()[0])
except sqlite3.OperationalError as e:
    print("error", e)
c.execute("INSERT INTO t(who) VALUES ('python')")
print("write ok")
"""
APSW_PY = """
import apsw, sys
db, mode = sys.argv[1:3]
c = apsw.Connection(db)
try:
    print("switched", c.execute(f"PRAGMA journal_mode={mode}").fetchall()[0][0])
except apsw.Error as e:
    print("error", e)
c.execute("INSERT INTO t(who) VALUES ('apsw')")
print("write ok")
"""
TCL = """
package require sqlite3
sqlite3 db [lindex $argv 0]
if {[catch {db eval "PRAGMA journal_mode=[lindex $argv 1]"} r]} {puts "error $r"} else {puts "switched $r"}
db eval {INSERT INTO t(who) VALUES ('tcl')}
puts "write ok"
"""
NODE = """
const Database = require("better-sqlite3");
const db = new Database(process.argv[1], { fileMustExist: true });  // node -e: argv[1] is the first argument
try { console.log("switched", db.pragma(`journal_mode=${process.argv[2]}`, { simple: true })); }
catch (e) { console.log("error", e.message); }
db.prepare("INSERT INTO t(who) VALUES ('node')").run();
console.log("write ok");
"""


def clients(work):
    out = []
    out.append(("sqlite3 shell", None))
    out.append(("python3 stdlib sqlite3", ["/usr/bin/python3", "-c", PY]))
    tcl = os.path.join(work, "client.tcl")
    with open(tcl, "w") as f:
        f.write(TCL)
    if subprocess.run(["tclsh"], input="package require sqlite3", text=True, capture_output=True).returncode == 0:
        out.append(("tcl sqlite3", ["tclsh", tcl]))
    else:
        skipped.append("tcl (no libsqlite3-tcl)")
    if os.path.exists(APSW):
        out.append(("APSW", [APSW, "-c", APSW_PY]))
    else:
        skipped.append("APSW (no .deps/venv: scripts/ensure-clients.sh)")
    if os.path.isdir(os.path.join(NODE_MODULES, "better-sqlite3")) and shutil.which("node"):
        out.append(("better-sqlite3", ["env", f"NODE_PATH={NODE_MODULES}", "node", "-e", NODE]))
    else:
        skipped.append("better-sqlite3 (no .deps/node: scripts/ensure-clients.sh)")
    return out


def run_client(argv, db, mode):
    if argv is None:  # the shell goes on after an error when reading stdin
        sql = f"PRAGMA journal_mode={mode};\nINSERT INTO t(who) VALUES ('shell');\nSELECT 'write ok';\n"
        r = subprocess.run(["sqlite3", db], input=sql, capture_output=True, text=True, timeout=30, cwd=LOGS)
        out = r.stdout + r.stderr
        return out.replace("Error: stepping, database is locked", "error database is locked")
    r = subprocess.run(argv + [db, mode], capture_output=True, text=True, timeout=30, cwd=LOGS)
    return r.stdout + r.stderr


def test_clients(work):
    db = os.path.join(work, "clients.db")
    wal_db(db)
    h = Holder(db, wait_for="walguard-hold: holding")
    expected = count(db)
    for name, argv in clients(work):
        for mode in MODES:
            start = time.monotonic()
            out = run_client(argv, db, mode)
            took = time.monotonic() - start
            expected += 1
            stopped = "database is locked" in out
            if mode == "off" and name == "better-sqlite3" and "switched wal" in out:
                # better-sqlite3 turns SQLITE_DBCONFIG_DEFENSIVE on, where journal_mode=OFF is a
                # query: nothing to stop.
                stopped, what = True, "is a query (defensive mode), header 2,2"
            else:
                what = "fails with 'database is locked', header 2,2"
            ok = stopped and "write ok" in out and header(db) == (2, 2) and count(db) == expected
            check(f"{name}: journal_mode={mode} {what}, write ok ({took:.2f}s)",
                  ok, f"output: {out!r}", f"header {header(db)}, rows {count(db)}, expected {expected}")
    check("the holder logged nothing but its one 'holding' line", len(h.log()) == 1, *h.log())
    h.stop()


def test_checkpoints(work):
    db = os.path.join(work, "ckpt.db")
    wal = db + "-wal"
    wal_db(db)
    h = Holder(db, wait_for="walguard-hold: holding")
    c = sqlite3.connect(db, isolation_level=None)
    for mode in ["PASSIVE", "FULL", "RESTART", "TRUNCATE"]:
        for _ in range(3):
            c.execute("INSERT INTO t(who) VALUES ('ckpt')")
        busy, log, done = c.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        check(f"wal_checkpoint({mode}) runs to the end beside the holder: busy {busy}, {done} of {log} frames",
              busy == 0 and log == done and (log > 0 or mode == "TRUNCATE"))
    check("wal_checkpoint(TRUNCATE) leaves the -wal at 0 bytes", os.path.getsize(wal) == 0, f"{os.path.getsize(wal)} bytes")
    # The last other connection's close: with the holder, the -wal stays.
    c.execute("INSERT INTO t(who) VALUES ('close')")
    c.close()
    check("with the holder, the last other connection's close leaves the -wal", os.path.exists(wal))
    check("...and the file is still held", status(db)[0] == 0, status(db)[1])
    # locking_mode=EXCLUSIVE writers cannot get their exclusive lock.
    x = sqlite3.connect(db, isolation_level=None, timeout=0.2)
    x.execute("PRAGMA locking_mode=EXCLUSIVE")
    try:
        x.execute("INSERT INTO t(who) VALUES ('exclusive')")
        out = "inserted"
    except sqlite3.OperationalError as e:
        out = str(e)
    x.close()
    check("a locking_mode=EXCLUSIVE writer gets SQLITE_BUSY ('database is locked')", out == "database is locked", out)
    h.stop()
    # Controls: without the holder, the last close deletes the -wal and EXCLUSIVE works.
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("INSERT INTO t(who) VALUES ('control')")
    c.close()
    check("control: without the holder, the last close deletes the -wal", not os.path.exists(wal))
    x = sqlite3.connect(db, isolation_level=None, timeout=0.2)
    x.execute("PRAGMA locking_mode=EXCLUSIVE")
    x.execute("INSERT INTO t(who) VALUES ('exclusive')")
    x.close()
    check("control: without the holder, the locking_mode=EXCLUSIVE writer commits", True)


def test_kill_and_signals(work):
    db = os.path.join(work, "kill.db")
    wal_db(db)
    h = Holder(db, wait_for="walguard-hold: holding")
    code, out = status(db)
    check("--status: held, exit 0", code == 0 and out.startswith("held") and str(h.proc.pid) in out, out)
    code, out = status()
    check("--status with no file: lists the held file by pid", code == 0 and db in out and str(h.proc.pid) in out, out)
    h.stop(signal.SIGKILL)
    code, out = status(db)
    check("--status after SIGKILL: not held, exit 1", code == 1 and out.startswith("not held"), out)
    other = sqlite3.connect(db)
    other.execute("SELECT count(*) FROM t").fetchone()  # an ordinary WAL reader's SHARED lock
    code, out = status(db)
    other.close()
    check("--status counts only walguard-hold's locks, not another process's WAL connection",
          code == 1 and out.startswith("not held"), out)
    out = run_client(["/usr/bin/python3", "-c", PY], db, "delete")
    check("after SIGKILL of the holder the locks are gone: the downgrade goes through (header 1,1)",
          "switched delete" in out and header(db) == (1, 1), out, f"header {header(db)}")
    for sig, name in [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")]:
        db = os.path.join(work, f"{name}.db")
        wal_db(db)
        h = Holder(db, wait_for="walguard-hold: holding")
        code = h.stop(sig)
        log = h.log()
        check(f"{name}: exit 0, one line saying so", code == 0 and log[-1] == f"walguard-hold: {name}: releasing 1 held file(s), exiting",
              f"exit {code}", *log)
        out = run_client(["/usr/bin/python3", "-c", PY], db, "delete")
        check(f"after {name} the downgrade goes through", "switched delete" in out and header(db) == (1, 1), out)


def test_replace(work):
    db = os.path.join(work, "app.db")
    wal_db(db)
    h = Holder(db, wait_for="walguard-hold: holding")
    old = os.stat(db).st_ino
    # A careful replacement: checkpoint, then rename a finished database over it.
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    new = os.path.join(work, "new.db")
    wal_db(new, rows=7)
    os.rename(new, db)
    ino = os.stat(db).st_ino
    ok = h.wait_log(f"holding {db} (inode {ino})")
    replaced = [l for l in h.log() if "replaced" in l]
    check("a file renamed over the held one: one 'replaced' line, then holding the new inode",
          ok and len(replaced) == 1 and f"inode {old} -> {ino}" in replaced[0], *h.log())
    code, out = status(db)
    check("--status: the new inode is held", code == 0 and f"inode {ino}" in out, out)
    out = run_client(["/usr/bin/python3", "-c", PY], db, "delete")
    check("the replacement is protected: downgrade locked, header 2,2, its rows plus the write",
          "database is locked" in out and header(db) == (2, 2) and count(db) == 8, out)
    # Deleted, then created again.
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    ok = h.wait_log(f"{db} was deleted")
    check("a deleted file: one 'deleted' line, released", ok and status(db)[0] == 1, *h.log())
    wal_db(db)
    ok = h.wait_log("walguard-hold: holding", n=3)
    check("created again as WAL: held again", ok and status(db)[0] == 0, *h.log())
    lines = h.log()
    check("one log line per event (holding, replaced, holding, deleted, holding)", len(lines) == 5, *lines)
    h.stop()


def test_what_it_holds(work):
    wal = os.path.join(work, "w.db")
    rb = os.path.join(work, "rb.db")
    empty = os.path.join(work, "empty.db")
    missing = os.path.join(work, "missing.db")
    text = os.path.join(work, "notes.txt")
    link = os.path.join(work, "link.db")
    wal_db(wal)
    c = sqlite3.connect(rb)
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT)")
    c.commit()
    c.close()
    open(empty, "w").close()
    with open(text, "w") as f:
        f.write("not a database\n")
    os.link(wal, link)
    h = Holder(wal, rb, empty, missing, text, link, wait_for=f"not holding {link}")
    log = "\n".join(h.log())
    check("holds the WAL file", f"holding {wal}" in log, log)
    check("says why not a rollback file (and leaves it 1,1)", f"not holding {rb}: it is in a rollback-journal mode" in log
          and "--ensure-wal switches it" in log and header(rb) == (1, 1), log)
    check("says why not an empty file", f"not holding {empty}: it is an empty (new) database" in log, log)
    check("says why not a missing file", f"not holding {missing}: it does not exist" in log, log)
    check("says why not a text file", f"not holding {text}: it is not a SQLite database" in log, log)
    check("a second path to the same file is not opened twice (closing it would drop the lock)",
          f"not holding {link}: it is the same file as another path already held" in log and status(wal)[0] == 0, log)
    code, out = status(wal, rb, missing)
    check("--status names each file, exit 1 when one is not held", code == 1 and out.count("not held") == 2, out)
    # A rollback file someone else switches to WAL is picked up at the next check.
    c = sqlite3.connect(rb)
    c.execute("PRAGMA journal_mode=WAL")
    c.close()
    check("a file switched to WAL by someone else is held at the next check", h.wait_log(f"holding {rb}"), *h.log())
    h.stop()


def test_ensure_wal(work):
    rb = os.path.join(work, "convert.db")
    c = sqlite3.connect(rb)
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT)")
    c.executemany("INSERT INTO t(who) VALUES (?)", [("rollback",)] * 5)
    c.commit()
    c.close()
    fresh = os.path.join(work, "fresh.db")
    h = Holder("--ensure-wal", rb, fresh, wait_for="walguard-hold: holding")
    ok = h.wait_log("walguard-hold: holding", n=2)
    log = h.log()
    check("--ensure-wal switches a rollback file to WAL and holds it (rows intact)",
          ok and header(rb) == (2, 2) and count(rb) == 5 and f"holding {rb}" in "\n".join(log)
          and "(switched to WAL)" in "\n".join(log), *log)
    check("--ensure-wal creates a missing file as WAL and holds it",
          os.path.exists(fresh) and header(fresh) == (2, 2) and status(fresh)[0] == 0, *log)
    out = run_client(["/usr/bin/python3", "-c", PY], rb, "delete")
    check("...and it stays WAL", "database is locked" in out and header(rb) == (2, 2), out)
    h.stop()


def test_unit(work):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        skipped.append("systemd unit (no systemd-analyze)")
        return
    unit = os.path.join(work, "walguard-hold@.service")
    with open(os.path.join(ROOT, "hold", "deploy", "walguard-hold@.service")) as f:
        text = f.read().replace("@BINDIR@", os.path.dirname(os.path.abspath(HOLD)))
    with open(unit, "w") as f:
        f.write(text)
    instance = os.path.join(work, "walguard-hold@srv-app-app.db.service")
    os.symlink(unit, instance)
    r = subprocess.run([analyze, "verify", "--man=no", instance], capture_output=True, text=True)
    check("systemd-analyze verify accepts the template unit", r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr)


def main():
    if not os.access(HOLD, os.X_OK):
        sys.exit(f"{HOLD} is missing: run make")
    global LOGS
    work = tempfile.mkdtemp(prefix="walguard-hold-test.")
    LOGS = work
    start = time.monotonic()
    try:
        for t in [test_clients, test_checkpoints, test_kill_and_signals, test_replace, test_what_it_holds,
                  test_ensure_wal, test_unit]:
            d = os.path.join(work, t.__name__)
            os.mkdir(d)
            t(d)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for s in skipped:
        print(f"skipped: {s}")
    print(f"hold: {passed} passed, {failed} failed ({time.monotonic() - start:.1f}s)")
    sys.exit(1 if failed else 0)


main()
