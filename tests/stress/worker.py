"""One stress worker: a process that connects, writes, disconnects, forever (until killed).

  worker.py DB LOG LIB|none ROLE INDEX [--policy enforce|keep] [--eio FRACTION]

ROLE "wal" sets journal_mode=WAL on every connect; ROLE "fallback" follows the pattern of
the seed story: on every connect it "falls back" to journal_mode=DELETE, as code does after
a transient error. ROLE "attach-fallback" does the same through an ATTACHed database: it
opens a private main database, attaches DB and sends the fallback unprefixed, so the
pragma never reaches DB's file and only the header-write layer can refuse it. After each
commit the id is appended to LOG (so every logged id must be in the database); each outcome
of the fallback pragma is appended to LOG.events ("pragma delete" / "attached delete" for a
downgrade that went through, "refused" / "refused at the header" for a refusal), and
"started" once per process.

ROLE "app" is the connection code of the seed's application as it was before it was fixed:
on every connect it sets journal_mode=WAL and, when that fails with one of its "WAL is not
supported here" marker errors ("disk i/o error" among them), falls back to
journal_mode=DELETE; an error of the fallback fails the command (the connection is closed,
nothing is written). --eio FRACTION makes the WAL pragma of that fraction of its
connections fail with a transient "disk I/O error" instead of running (an
sqlite3.OperationalError raised in place of the pragma, as the application would see it).
Its events: "injected disk I/O error" per injected failure; per fallback "fallback <mode>"
(the mode the pragma answered), "fallback refused" (walguard's refusal) or "fallback error
<message>"; "command failed <message>" for each command the application saw fail.

--policy sets WALGUARD_POLICY before walguard is loaded.
"""
import os
import random
import sqlite3
import sys
import time

db, log_path, lib, role, index = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
options = dict(zip(sys.argv[6::2], sys.argv[7::2]))
if set(options) - {"--policy", "--eio"} or len(sys.argv[6:]) % 2:
    raise SystemExit(f"worker.py: unknown options {sys.argv[6:]}")
eio_fraction = float(options.get("--eio", 0))
if "--policy" in options:
    os.environ["WALGUARD_POLICY"] = options["--policy"]
# The application's markers for "this filesystem does not support WAL", as in the seed story.
WAL_INCOMPAT_MARKERS = ("disk i/o error", "locking protocol", "not authorized")

if lib != "none":
    loader = sqlite3.connect(":memory:")
    loader.enable_load_extension(True)
    loader.load_extension(lib)
    loader.close()

rng = random.Random()
log = open(log_path, "a", buffering=1)
events = open(log_path + ".events", "a", buffering=1)
seq = sum(1 for _ in open(log_path))  # restart after a kill: continue the sequence
seq += 1000 * sum(1 for _ in open(log_path + ".events"))  # and never reuse an id:
# a SIGKILL between a COMMIT and its log line leaves an id in the database that the log does
# not count, so every start writes an event, which moves this start's ids 1000 past the last.
events.write("started\n")


def retry(fn):
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
            time.sleep(rng.random() / 100)


table = "t"
while True:
    if role == "attach-fallback":
        conn = sqlite3.connect(f"{log_path}.main.db", timeout=2, isolation_level=None)
        conn.execute("ATTACH ? AS shared", (db,))
        table = "shared.t"
    else:
        conn = sqlite3.connect(db, timeout=2, isolation_level=None)
    try:
        if role == "attach-fallback":
            try:
                conn.execute("SELECT count(*) FROM shared.t").fetchall()
                conn.execute("PRAGMA journal_mode=DELETE").fetchall()
                mode = conn.execute("PRAGMA shared.journal_mode").fetchall()[0][0]
                events.write("attached delete\n" if mode == "delete" else f"attached {mode}\n")
            except sqlite3.OperationalError as e:
                events.write("refused at the header\n" if str(e) == "disk I/O error" else f"error {e}\n")
        elif role == "app":
            try:
                if rng.random() < eio_fraction:
                    events.write("injected disk I/O error\n")
                    raise sqlite3.OperationalError("disk I/O error")
                conn.execute("PRAGMA journal_mode=WAL").fetchall()
            except sqlite3.OperationalError as e:
                if not any(marker in str(e).lower() for marker in WAL_INCOMPAT_MARKERS):
                    raise
                try:
                    mode = conn.execute("PRAGMA journal_mode=DELETE").fetchall()[0][0]
                    events.write(f"fallback {mode}\n")
                except sqlite3.OperationalError as fallback_error:
                    refused = str(fallback_error).startswith("walguard:")
                    events.write("fallback refused\n" if refused else f"fallback error {fallback_error}\n")
                    raise
        elif role == "fallback":
            try:
                mode = conn.execute("PRAGMA journal_mode=DELETE").fetchall()[0][0]
                events.write(f"pragma {mode}\n")
            except sqlite3.OperationalError as e:
                events.write("refused\n" if str(e).startswith("walguard:") else f"error {e}\n")
        else:
            try:
                conn.execute("PRAGMA journal_mode=WAL").fetchall()
            except sqlite3.OperationalError:
                pass
        for _ in range(rng.randint(1, 5)):
            seq += 1
            ident = index * 10**9 + seq

            def commit():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute(f"INSERT INTO {table}(id, who) VALUES(?, ?)", (ident, index))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            retry(commit)
            log.write(f"{ident}\n")
    except sqlite3.DatabaseError as e:
        if role == "app":  # what its user sees: the command failed
            message = "walguard: refused" if str(e).startswith("walguard: refused") else str(e)
            events.write(f"command failed {message}\n")
        else:
            events.write(f"error {e}\n")
        time.sleep(0.05)
    finally:
        conn.close()
    # A CLI run per command, a cron job: processes come and go, and a process that is alone
    # with the file is the one that can walk it out of WAL.
    time.sleep(rng.random() / 20)
