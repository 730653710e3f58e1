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
will not hold, --status, SIGTERM/SIGINT, the systemd unit. Then what an operator runs into
(issue 27): stderr's reader killed, a FIFO at a watched path, a misspelled path, a read-only
directory and mount, -V and --json, a deliberate conversion, core's byte-19 header rule,
directories; and `walguard-hold status` against real processes (the holder, Debian's python3
plain, with walguard loaded and under LD_PRELOAD, APSW, better-sqlite3, a program with SQLite
compiled in) and on tmpfs and FUSE (bindfs) mounts.

WALGUARD_HOLD=/path/to/walguard-hold runs the checks against another build of it.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import json
import stat
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# WALGUARD_HOLD: another build of it (make test-release runs this file against the release's).
HOLD = os.environ.get("WALGUARD_HOLD") or os.path.join(ROOT, "walguard-hold")
LIB = os.path.join(ROOT, "libwalguard.so")
PRELOAD = os.path.join(ROOT, "libwalguard_preload.so")
APSW = os.path.join(ROOT, ".deps", "venv", "bin", "python")
NODE_MODULES = os.path.join(ROOT, ".deps", "node", "node_modules")
MODES = ["delete", "truncate", "persist", "memory", "off"]
INTERVAL = "0.1"

passed, failed, skipped = 0, 0, []
LOGS = None  # the holders' logs go to the test's work directory
HOLDERS = []  # every holder started, killed at the end of the run if a test left one running


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
        HOLDERS.append(self.proc)
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

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """The exit code, or None when the signal did not end it (then it is SIGKILLed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.log_file.close()
        return code


def status(*paths):
    r = subprocess.run([HOLD, "--status", *paths], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def run_text(argv, timeout=60):
    """stdout + stderr of a command, and its exit code (None when it had to be killed)."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        return None, f"still running after {timeout} s: {e.stdout or ''}"


def report(*paths):
    """walguard-hold status --json: (exit code, the parsed object or None, the raw output)."""
    code, out = run_text([HOLD, "status", "--json", *paths])
    try:
        obj = json.loads(out)
    except ValueError:
        obj = None
    return code, obj, out


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
    ok = h.wait_log(f"walguard-hold: holding {db} (inode {ino})")
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
    check("a file switched to WAL by someone else is held at the next check", h.wait_log(f"walguard-hold: holding {rb}"), *h.log())
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


def plain_downgrade(db):
    """A plain process (no walguard) tries journal_mode=DELETE: its output."""
    return run_client(["/usr/bin/python3", "-c", PY], db, "delete")


def test_stderr_gone(work):
    """The holder's stderr is a pipe whose reader dies (`walguard-hold ... 2>&1 | logger`, the
    logger restarted): the next event's log line fails with EPIPE. The holder must go on holding."""
    a = os.path.join(work, "a.db")
    b = os.path.join(work, "b.db")
    wal_db(a)
    log_path = os.path.join(work, "reader.log")
    r, w = os.pipe()
    with open(log_path, "w") as log_file:
        reader = subprocess.Popen(["cat"], stdin=r, stdout=log_file)
    proc = subprocess.Popen([HOLD, "--interval", INTERVAL, a, b], stderr=w)
    os.close(r)
    os.close(w)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and f"not holding {b}" not in open(log_path).read():
        time.sleep(0.02)
    reader.kill()
    reader.wait()
    wal_db(b)  # an event: the holder attaches b.db and logs it into the dead pipe
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proc.poll() is None and status(b)[0] != 0:
        time.sleep(0.05)
    time.sleep(0.3)
    alive = proc.poll() is None
    check("stderr's reader killed, then an event logged: the holder is still running",
          alive, f"exit {proc.returncode}", open(log_path).read())
    check("...it held the new file it logged about", status(b)[0] == 0, status(b)[1])
    out = plain_downgrade(a)
    check("...and it still holds the first: a plain process's journal_mode=DELETE gets 'database is locked'",
          "database is locked" in out and header(a) == (2, 2), out)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        check("...and SIGTERM still ends it with exit 0 (its last line lost)", proc.wait(timeout=10) == 0)


def test_fifo(work):
    """A FIFO at a watched path (and in a watched directory) is never opened for reading in a
    way that blocks: the files after it are held, SIGTERM is honoured."""
    fifo = os.path.join(work, "fifo.db")
    os.mkfifo(fifo)
    after = os.path.join(work, "after.db")
    later = os.path.join(work, "later.db")
    wal_db(after)
    h = Holder(fifo, after, later)
    ok = h.wait_log(f"walguard-hold: holding {after}", timeout=5)
    check("a FIFO named before a WAL file: the WAL file is held", ok, *h.log())
    check("...and the FIFO is named as such", any(f"not holding {fifo}: it is a FIFO" in l for l in h.log()), *h.log())
    wal_db(later)
    check("...a file created later is still picked up", h.wait_log(f"walguard-hold: holding {later}", timeout=5), *h.log())
    code = h.stop(timeout=5)
    check("...and SIGTERM ends it with exit 0", code == 0, f"exit {code}", *h.log())


def test_misspelled(work):
    """A path in a directory that does not exist (a misspelling) ends the holder with exit 1 and
    a line naming the directory, so the unit shows failed; so does a directory argument that
    does not exist. A missing file in a directory that exists is waited for, and the health
    checks (--status, status) say it is not held."""
    bad = os.path.join(work, "no-such-dir", "app.db")
    try:
        r = subprocess.run([HOLD, "--interval", INTERVAL, bad], capture_output=True, text=True, timeout=3)
        code, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        code, err = None, "still running after 3 s"
    check("a file in a directory that does not exist: exit 1 at once, naming the directory",
          code == 1 and "no-such-dir" in err and "a misspelled path?" in err, f"exit {code}", err)
    try:
        r = subprocess.run([HOLD, "--interval", INTERVAL, os.path.join(work, "no-such-dir") + "/"],
                           capture_output=True, text=True, timeout=3)
        code, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        code, err = None, "still running after 3 s"
    check("a directory (trailing /) that does not exist: exit 1 at once", code == 1 and "cannot watch" in err, f"exit {code}", err)
    code, obj, out = report(work)
    check("status of a directory with no database in it: nothing to report, exit 0",
          code == 0 and obj and obj["databases"] == [], out)
    missing = os.path.join(work, "app.db")
    h = Holder(missing, wait_for=f"not holding {missing}: it does not exist; waiting")
    code, out = status(missing)
    check("a missing file in an existing directory is waited for; --status says not held, exit 1",
          h.proc.poll() is None and code == 1 and out.startswith("not held"), out)
    code, obj, out = report(missing)
    check("...and status says NOT protected (journal 'missing', no holder), exit 1",
          code == 1 and obj and obj["databases"][0]["journal"] == "missing" and not obj["databases"][0]["held"], out)
    h.stop()


def test_readonly(work):
    """A directory the holder's user cannot write: SQLite cannot create the -wal and -shm, and
    the holder says so (not just 'attempt to write a readonly database'). A read-only mount:
    says that."""
    if not shutil.which("setpriv") or os.getuid() != 0:
        skipped.append("read-only directory (needs root and setpriv to run the holder as nobody)")
        return
    os.chmod(os.path.dirname(work), 0o755)
    os.chmod(work, 0o755)
    db = os.path.join(work, "ro.db")
    wal_db(db)
    os.chmod(db, 0o666)
    log_path = os.path.join(work, "ro.log")
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 HOLD, "--interval", INTERVAL, db], stderr=log_file)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "not holding" not in open(log_path).read():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    log = open(log_path).read()
    check("a directory the holder's user cannot write: says the directory must be writable for ro.db-wal and ro.db-shm",
          f"its directory {work} is not writable by this user (uid 65534" in log and "ro.db-wal and ro.db-shm" in log
          and "User=" in log, log)
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "walguard-test", mnt]).returncode != 0:
        skipped.append("read-only mount (mount -t tmpfs failed)")
        return
    try:
        rodb = os.path.join(mnt, "app.db")
        wal_db(rodb)
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        h = Holder(rodb, wait_for=f"not holding {rodb}")
        log = "\n".join(h.log())
        check("a WAL file on a read-only mount: says the mount is read-only", "it is on a read-only mount" in log, log)
        h.stop()
    finally:
        subprocess.run(["umount", mnt])


def test_cli(work):
    r = subprocess.run([HOLD, "--help"], capture_output=True, text=True, timeout=10)
    check("--help lists --version and -V, and the status command",
          r.returncode == 0 and "--version" in r.stdout and "-V" in r.stdout and "status [--json]" in r.stdout, r.stdout)
    r = subprocess.run([HOLD, "-V"], capture_output=True, text=True, timeout=10)
    check("-V prints the version, exit 0", r.returncode == 0 and r.stdout.startswith("walguard-hold "), r.stdout + r.stderr)
    db = os.path.join(work, "j.db")
    wal_db(db)
    h = Holder(db, wait_for="walguard-hold: holding")
    r = subprocess.run([HOLD, "--status", "--json", db], capture_output=True, text=True, timeout=10)
    try:
        obj = json.loads(r.stdout)
        ok = r.returncode == 0 and obj["all_held"] and obj["files"][0]["held"] and obj["files"][0]["holders"] == [h.proc.pid]
    except (ValueError, KeyError, IndexError):
        ok = False
    check("--status --json: one JSON object, held by the holder's pid", ok, r.stdout + r.stderr)
    r = subprocess.run([HOLD, "--status", "--json"], capture_output=True, text=True, timeout=10)
    try:
        obj = json.loads(r.stdout)
        ok = any(x["pid"] == h.proc.pid and any(f["path"] == db for f in x["files"]) for x in obj["holders"])
    except (ValueError, KeyError):
        ok = False
    check("--status --json with no file: each holder's files", ok, r.stdout + r.stderr)
    h.stop()
    code, out = run_text([HOLD, "--status", "--json", db], timeout=10)
    try:
        ok = code == 1 and json.loads(out)["files"][0]["held"] is False
    except (ValueError, KeyError, IndexError):
        ok = False
    check("--status --json after the holder stopped: held false, exit 1", ok, out)


def test_conversion(work):
    """A deliberate conversion (walguard=off) while the holder runs fails with 'database is
    locked'; the holder's log line and the status command say to stop it first; stopped, the
    conversion goes through."""
    db = os.path.join(work, "conv.db")
    wal_db(db)
    h = Holder(db, wait_for="walguard-hold: holding")

    def convert():
        r = subprocess.run(["sqlite3", ":memory:", "-cmd", f".load {LIB}", "-cmd", f".open file:{db}?walguard=off",
                            "PRAGMA journal_mode=DELETE"], capture_output=True, text=True, timeout=30, cwd=work)
        return r.stdout + r.stderr

    out = convert()
    check("walguard=off + journal_mode=DELETE while the holder runs: 'database is locked', header 2,2",
          "database is locked" in out and header(db) == (2, 2), out)
    check("the holder's 'holding' line says to stop it before converting",
          any("holding" in l and "to take it out of WAL on purpose, stop this holder first" in l for l in h.log()), *h.log())
    _, out = run_text([HOLD, "status", db], timeout=10)
    check("status names the holder and how to stop it (kill -TERM PID) before converting",
          f"stop it first (kill -TERM {h.proc.pid}), convert, start it again" in out, out)
    h.stop()
    out = convert()
    check("the holder stopped: the same conversion goes through (header 1,1)", "delete" in out and header(db) == (1, 1), out)


def test_header_rule(work):
    """One header rule, core's: byte 19 decides. A file with bytes 18,19 = 1,2 is one SQLite
    opens as WAL: it is held, and a downgrade is stopped."""
    db = os.path.join(work, "h.db")
    wal_db(db)
    with open(db, "r+b") as f:
        f.seek(18)
        f.write(b"\x01")
    h = Holder(db, wait_for=f"{db}")
    ok = h.wait_log(f"walguard-hold: holding {db}", timeout=3)
    check("header bytes 18,19 = 1,2 (WAL by byte 19): held", ok and status(db)[0] == 0, *h.log())
    out = plain_downgrade(db)
    check("...and a plain process's journal_mode=DELETE gets 'database is locked'", "database is locked" in out, out)
    h.stop()


def test_directory(work):
    d = os.path.join(work, "data")
    os.mkdir(d)
    a = os.path.join(d, "a.db")
    rb = os.path.join(d, "rb.db")
    notes = os.path.join(d, "notes.txt")
    empty = os.path.join(d, "empty.db")
    fifo = os.path.join(d, "pipe.db")
    wal_db(a)
    c = sqlite3.connect(rb)
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT)")
    c.commit()
    c.close()
    with open(notes, "w") as f:
        f.write("SQLite format 3 is not enough to be a database\n" * 10)
    open(empty, "w").close()
    os.mkfifo(fifo)
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    wal_db(os.path.join(sub, "nested.db"))
    # --ensure-wal applies to files named on the command line only: rb.db must stay 1,1.
    h = Holder("--ensure-wal", d, wait_for=f"not holding {rb}")
    log = "\n".join(h.log())
    check("a directory: every WAL database in it is held", f"holding {a}" in log and status(a)[0] == 0, log)
    check("...a rollback database in it is named, not held, not switched",
          f"not holding {rb}: it is in a rollback-journal mode (header byte 19 = 1); held once it is WAL" in log and header(rb) == (1, 1), log)
    check("...other files (text, empty, a FIFO, -wal, -shm) are never mentioned",
          "notes.txt" not in log and "empty.db" not in log and "pipe.db" not in log and "-wal" not in log and "-shm" not in log, log)
    check("...and it is not recursive: a WAL database in a subdirectory is not held", "nested.db" not in log
          and status(os.path.join(sub, "nested.db"))[0] == 1, log)
    kanban = os.path.join(d, "kanban.db")
    wal_db(kanban)  # an application creating its database on first run
    check("a WAL database created in it later is held", h.wait_log(f"walguard-hold: holding {kanban}", timeout=5), *h.log())
    out = plain_downgrade(kanban)
    check("...and a plain process's journal_mode=DELETE on it gets 'database is locked'", "database is locked" in out, out)
    check("no file was created beside the non-databases",
          sorted(os.listdir(d)) == sorted(["a.db", "a.db-shm", "a.db-wal", "rb.db", "notes.txt", "empty.db", "pipe.db", "sub",
                                           "kanban.db", "kanban.db-shm", "kanban.db-wal"]), sorted(os.listdir(d)))
    c = sqlite3.connect(rb)
    c.execute("PRAGMA journal_mode=WAL")
    c.close()
    check("the rollback database switched to WAL by someone else is held", h.wait_log(f"walguard-hold: holding {rb}", timeout=5), *h.log())
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(kanban + suffix):
            os.unlink(kanban + suffix)
    check("a database deleted from it is released", h.wait_log(f"{kanban} was deleted: released", timeout=5), *h.log())
    code, obj, out = report(d)
    paths = [x["path"] for x in obj["databases"]] if obj else []
    check("status DIR: the databases in it (not the subdirectory's, not the other files), all protected, exit 0",
          code == 0 and paths == [a, rb], out)
    code = h.stop()
    check("SIGTERM: exit 0, releasing the 2 files it holds",
          code == 0 and h.log()[-1] == "walguard-hold: SIGTERM: releasing 2 held file(s), exiting", *h.log())
    code, obj, out = report(d)
    check("status DIR with the holder stopped: NOT protected, exit 1", code == 1 and obj and not obj["protected"], out)


# A process that opens a database, reads it, says "ready" and keeps it open until stdin closes.
OPEN_PY = """
import os, sqlite3, sys
if os.environ.get("LOAD_WALGUARD"):
    m = sqlite3.connect(":memory:")
    m.enable_load_extension(True)
    m.load_extension(os.environ["LOAD_WALGUARD"])
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM t").fetchone()
print("ready", flush=True)
sys.stdin.read()
"""
OPEN_APSW = """
import apsw, sys
c = apsw.Connection(sys.argv[1])
c.execute("SELECT count(*) FROM t").fetchall()
print("ready", flush=True)
sys.stdin.read()
"""
OPEN_NODE = """
const Database = require("better-sqlite3");
const db = new Database(process.argv[1], { fileMustExist: true });
db.prepare("SELECT count(*) FROM t").get();
console.log("ready");
process.stdin.on("data", () => {}); process.stdin.on("end", () => process.exit(0));
"""


class Opener:
    def __init__(self, argv, db, env=None):
        self.proc = subprocess.Popen(argv + [db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})}, cwd=LOGS)
        line = self.proc.stdout.readline()
        self.ready = line.strip() == "ready"
        if not self.ready:
            self.proc.kill()
            print(self.proc.stderr.read())

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


def test_status_processes(work):
    """walguard-hold status against real processes: a holder, a plain python3, one with
    walguard loaded, one under the preload, APSW and better-sqlite3 (each bundling SQLite)."""
    db = os.path.join(work, "app.db")
    wal_db(db)
    code, obj, out = report(db)
    check("status of a WAL file no holder holds: NOT protected, exit 1, the reason given",
          code == 1 and obj and not obj["protected"] and any("no walguard-hold holds it" in r for r in obj["databases"][0]["reasons"]), out)
    h = Holder(db, wait_for="walguard-hold: holding")
    openers = {
        "plain": Opener(["/usr/bin/python3", "-c", OPEN_PY], db),
        "loaded": Opener(["/usr/bin/python3", "-c", OPEN_PY], db, {"LOAD_WALGUARD": LIB}),
        "preload": Opener(["/usr/bin/python3", "-c", OPEN_PY], db, {"LD_PRELOAD": PRELOAD, "WALGUARD_LIB": LIB}),
    }
    if os.path.exists(APSW):
        openers["apsw"] = Opener([APSW, "-c", OPEN_APSW], db)
    else:
        skipped.append("status with APSW (no .deps/venv)")
    if os.path.isdir(os.path.join(NODE_MODULES, "better-sqlite3")) and shutil.which("node"):
        openers["node"] = Opener(["env", f"NODE_PATH={NODE_MODULES}", "node", "-e", OPEN_NODE], db)
    else:
        skipped.append("status with better-sqlite3 (no .deps/node)")
    try:
        check("every test process opened the database", all(o.ready for o in openers.values()),
              *[k for k, o in openers.items() if not o.ready])
        start = time.monotonic()
        code, obj, out = report(db)
        took = time.monotonic() - start
        _, text = run_text([HOLD, "status", db], timeout=10)
        print("     (status took %.2fs)\n" % took + "".join(f"     | {l}\n" for l in text.splitlines()), end="")
        if not obj:
            check("status --json answers", False, out)
            return
        d = obj["databases"][0]
        procs = {p["pid"]: p for p in d["processes"]}
        check("held, WAL, ext4-like local filesystem: protected, exit 0",
              code == 0 and d["protected"] and d["journal"] == "wal" and d["header_bytes_18_19"] == [2, 2]
              and d["filesystem"]["wal_safe"] and d["holders"] == [h.proc.pid], out)
        hp = procs.get(h.proc.pid)
        # make's walguard-hold links the system libsqlite3; the release's has SQLite compiled in
        # (its `bundled` feature), which status must report as the executable's.
        linked = "libsqlite3.so" in subprocess.run(["readelf", "-d", HOLD], capture_output=True, text=True).stdout
        if linked:
            check("the holder is listed as the holder, with the system SQLite 3.40.1",
                  hp and hp["holder"] and hp["command"] == "walguard-hold"
                  and any(s["version"] == "3.40.1" and s["kind"] == "shared library" for s in hp["sqlite"]), hp)
        else:
            check("the holder is listed as the holder, with the SQLite compiled into its executable",
                  hp and hp["holder"] and hp["command"] == "walguard-hold"
                  and [(s["kind"], s["path"]) for s in hp["sqlite"]] == [("executable", os.path.realpath(HOLD))], hp)
        sysver = sqlite3.sqlite_version  # what /usr/bin/python3's SQLite says of itself
        r = subprocess.run(["/usr/bin/python3", "-c", "import sqlite3; print(sqlite3.sqlite_version)"], capture_output=True, text=True)
        sysver = r.stdout.strip()

        def sqlite_of(p):
            return [(s["version"], s["kind"], s["wal_reset_bug_range"]) for s in p["sqlite"]]

        p = procs.get(openers["plain"].proc.pid)
        check(f"plain python3: no walguard, SQLite {sysver} (shared library, in the WAL-reset range), warned",
              p and not p["walguard_loaded"] and not p["preload"] and (sysver, "shared library", True) in sqlite_of(p)
              and any(f"pid {p['pid']} (python3) uses SQLite {sysver}" in w for w in d["warnings"])
              and any(f"pid {p['pid']} (python3) has it open without walguard" in w for w in d["warnings"]), p, d["warnings"])
        p = procs.get(openers["loaded"].proc.pid)
        check("python3 with walguard loaded: walguard_loaded, no warning about it",
              p and p["walguard_loaded"] and not p["preload"] and (sysver, "shared library", True) in sqlite_of(p)
              and not any(f"pid {p['pid']} " in w for w in d["warnings"]), p, d["warnings"])
        p = procs.get(openers["preload"].proc.pid)
        check("python3 under LD_PRELOAD: preload and walguard_loaded",
              p and p["walguard_loaded"] and p["preload"] and not any(f"pid {p['pid']} " in w for w in d["warnings"]), p)
        if "apsw" in openers:
            import_ver = subprocess.run([APSW, "-c", "import apsw; print(apsw.sqlite_lib_version())"],
                                        capture_output=True, text=True).stdout.strip()
            p = procs.get(openers["apsw"].proc.pid)
            check(f"APSW: SQLite {import_ver} bundled in a module (not the WAL-reset range), no walguard",
                  p and (import_ver, "module", False) in sqlite_of(p) and not p["walguard_loaded"]
                  and any(s["path"].endswith(".so") and "apsw" in s["path"] for s in p["sqlite"]), p)
        if "node" in openers:
            node_ver = subprocess.run(["env", f"NODE_PATH={NODE_MODULES}", "node", "-e",
                                       "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"],
                                      capture_output=True, text=True).stdout.strip()
            p = procs.get(openers["node"].proc.pid)
            check(f"better-sqlite3: SQLite {node_ver} bundled in a module (better_sqlite3.node)",
                  p and (node_ver, "module", False) in sqlite_of(p)
                  and any(s["path"].endswith("better_sqlite3.node") for s in p["sqlite"]), p)
        check("exactly the processes that have it open are listed",
              set(procs) == {h.proc.pid, *[o.proc.pid for o in openers.values()]}, sorted(procs))
    finally:
        for o in openers.values():
            o.close()
        h.stop()


def static_opener():
    """build/static-opener: tests/hold/static_opener.c with SQLite's amalgamation compiled in
    (the copy libsqlite3-sys carries in cargo's registry), built once. None if not there."""
    out = os.path.join(ROOT, "build", "static-opener")
    src = os.path.join(ROOT, "tests", "hold", "static_opener.c")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    home = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
    import glob
    amalgamations = sorted(glob.glob(os.path.join(home, "registry", "src", "*", "libsqlite3-sys-*", "sqlite3", "sqlite3.c")))
    if not amalgamations:
        return None
    inc = os.path.dirname(amalgamations[-1])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    r = subprocess.run(["gcc", "-O0", "-w", "-I" + inc, "-o", out + ".tmp", src, amalgamations[-1], "-lpthread", "-lm", "-ldl"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        return None
    os.replace(out + ".tmp", out)
    return out


def test_status_static(work):
    """status against a program with SQLite compiled into the executable itself."""
    exe = static_opener()
    if not exe:
        skipped.append("status with a static SQLite (no amalgamation in cargo's registry, or gcc failed)")
        return
    db = os.path.join(work, "s.db")
    wal_db(db)
    p = subprocess.Popen([exe, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        version = line[1] if len(line) == 2 and line[0] == "ready" else None
        code, obj, out = report(db)
        procs = {x["pid"]: x for x in obj["databases"][0]["processes"]} if obj else {}
        me = procs.get(p.pid)
        ok = bool(version) and me and [(s["kind"], s["version"], s["path"]) for s in me["sqlite"]] == [("executable", version, exe)]
        check(f"a program with SQLite {version} compiled in: its SQLite is the executable's, version {version}", ok, me, out)
    finally:
        p.stdin.close()
        p.wait(timeout=10)


def test_status_filesystems(work):
    """status on other filesystems: tmpfs (safe), FUSE (bindfs: not safe, NOT protected)."""
    mnt = os.path.join(work, "tmpfs")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "walguard-test", mnt]).returncode != 0:
        skipped.append("status on tmpfs (mount -t tmpfs failed: needs root)")
        return
    try:
        db = os.path.join(mnt, "t.db")
        wal_db(db)
        h = Holder(db, wait_for="walguard-hold: holding")
        code, obj, out = report(db)
        fs = obj and obj["databases"][0]["filesystem"]
        check("a held WAL file on tmpfs: filesystem tmpfs (magic 0x1021994), WAL safe, protected, exit 0",
              code == 0 and fs and fs["type"] == "tmpfs" and fs["magic"] == "0x1021994" and fs["wal_safe"], out)
        h.stop()
    finally:
        subprocess.run(["umount", mnt])
    if not shutil.which("bindfs") or not os.path.exists("/dev/fuse"):
        skipped.append("status on FUSE (no bindfs or /dev/fuse: scripts/ensure-deps.sh fuse)")
        return
    src = os.path.join(work, "fuse-src")
    mnt = os.path.join(work, "fuse")
    os.mkdir(src)
    os.mkdir(mnt)
    wal_db(os.path.join(src, "f.db"))
    if subprocess.run(["bindfs", src, mnt], capture_output=True).returncode != 0:
        skipped.append("status on FUSE (bindfs could not mount)")
        return
    try:
        db = os.path.join(mnt, "f.db")
        code, obj, out = report(db)
        d = obj and obj["databases"][0]
        check("a WAL file on FUSE (bindfs): filesystem fuse, WAL not safe, NOT protected, exit 1",
              code == 1 and d and d["filesystem"]["type"] in ("fuse", "fuse.bindfs") and d["filesystem"]["wal"] == "fuse"
              and not d["protected"] and any("FUSE" in r for r in d["reasons"]), out)
        _, text = run_text([HOLD, "status", db], timeout=10)
        print("".join(f"     | {l}\n" for l in text.splitlines()), end="")
        check("...the text report warns", "WARNING: WAL is not known to be safe on a FUSE filesystem" in text, text)
        # walguard itself says so once, in its log line and in walguard_status().
        probe = (
            "import json, sqlite3, sys\n"
            "l = sqlite3.connect(':memory:'); l.enable_load_extension(True); l.load_extension(sys.argv[1])\n"
            "for _ in range(2):\n"
            "    c = sqlite3.connect(sys.argv[2]); c.execute('SELECT count(*) FROM t').fetchone(); c.close()\n"
            "print(json.dumps(json.loads(l.execute('SELECT walguard_status()').fetchone()[0])['wal_unsafe_filesystems']))\n"
        )
        out = subprocess.run(["/usr/bin/python3", "-c", probe, LIB, db], capture_output=True, text=True, timeout=30)
        at_risk = json.loads(out.stdout) if out.returncode == 0 else None
        check("walguard_status() names a guarded WAL database on FUSE, once",
              at_risk == [f"{db} (fuse: fuse)"], out.stdout + out.stderr)
    finally:
        subprocess.run(["umount", mnt])


def main():
    if not os.access(HOLD, os.X_OK):
        sys.exit(f"{HOLD} is missing: run make")
    global LOGS
    work = tempfile.mkdtemp(prefix="walguard-hold-test.")
    LOGS = work
    start = time.monotonic()
    try:
        for t in [test_clients, test_checkpoints, test_kill_and_signals, test_replace, test_what_it_holds,
                  test_ensure_wal, test_unit, test_stderr_gone, test_fifo, test_misspelled, test_readonly, test_cli,
                  test_conversion, test_header_rule, test_directory, test_status_processes, test_status_static,
                  test_status_filesystems]:
            d = os.path.join(work, t.__name__)
            os.mkdir(d)
            t(d)
    finally:
        for p in HOLDERS:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)
    for s in skipped:
        print(f"skipped: {s}")
    print(f"hold: {passed} passed, {failed} failed ({time.monotonic() - start:.1f}s)")
    sys.exit(1 if failed else 0)


main()
