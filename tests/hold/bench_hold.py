#!/usr/bin/env python3
"""What walguard-hold costs: commit latency and open/write/close cycles with and without a
holder on the database, and the holder's memory for 1 and 100 databases.

  /usr/bin/python3 tests/hold/bench_hold.py [ROUNDS]

Debian's python3 and its SQLite (3.40.1), no walguard loaded. Each workload is run ROUNDS
times (default 7) alternating without and with the holder; the medians are reported with
min and max, since this machine is shared.
"""
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOLD = os.path.join(ROOT, "walguard-hold")
COMMITS = 2000
CYCLES = 300


def wal_db(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
    c.close()


def start_holder(*paths):
    p = subprocess.Popen([HOLD, *paths], stderr=subprocess.PIPE, text=True)
    held = 0
    while held < len(paths):
        line = p.stderr.readline()
        if not line:
            raise SystemExit("walguard-hold exited")
        held += line.startswith("walguard-hold: holding")
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait()


def commits(db, synchronous):
    """COMMITS small commits in one connection, then a TRUNCATE checkpoint: per-commit us."""
    c = sqlite3.connect(db, isolation_level=None)
    c.execute(f"PRAGMA synchronous={synchronous}")
    blob = os.urandom(100)
    t0 = time.perf_counter()
    for _ in range(COMMITS):
        c.execute("INSERT INTO t(v) VALUES (?)", (blob,))
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    took = time.perf_counter() - t0
    c.close()
    return took / COMMITS * 1e6


def cycles(db):
    """CYCLES of connect, one INSERT, close (a CLI run per command): per-cycle us."""
    blob = os.urandom(100)
    t0 = time.perf_counter()
    for _ in range(CYCLES):
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("INSERT INTO t(v) VALUES (?)", (blob,))
        c.close()
    return (time.perf_counter() - t0) / CYCLES * 1e6


def instructions(db, sql):
    """Instructions the sqlite3 shell executes for SQL on DB, counted by callgrind."""
    out = db + ".callgrind"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "sqlite3", db],
                   input=sql, text=True, capture_output=True, check=True)
    with open(out) as f:
        total = next(int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:")))
    os.unlink(out)
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def fmt(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}..{max(xs):.1f})"


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    work = tempfile.mkdtemp(prefix="walguard-hold-bench.")
    try:
        db = os.path.join(work, "bench.db")
        wal_db(db)
        results = {}
        workloads = [
            (f"{COMMITS} commits, synchronous=NORMAL, us per commit", lambda: commits(db, "NORMAL")),
            (f"{COMMITS} commits, synchronous=FULL, us per commit", lambda: commits(db, "FULL")),
            (f"{CYCLES} x (connect, INSERT, close), us per cycle", lambda: cycles(db)),
        ]
        for name, fn in workloads:
            for _ in range(rounds):
                results.setdefault((name, False), []).append(fn())
                h = start_holder(db)
                results.setdefault((name, True), []).append(fn())
                stop(h)
        print("| workload | without holder (median, min..max) | with holder | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for name, _ in workloads:
            a, b = results[(name, False)], results[(name, True)]
            print(f"| {name} | {fmt(a)} | {fmt(b)} | {statistics.median(b) / statistics.median(a):.3f} |")
        # Instructions (repeatable on a shared machine): the shell, 1000 autocommit INSERTs;
        # and a shell run of one INSERT (open, write, close: the last close checkpoints).
        if shutil.which("valgrind"):
            many_inserts = "PRAGMA synchronous=NORMAL;\n" + "INSERT INTO t(v) VALUES (randomblob(100));\n" * 1000
            one_insert = "INSERT INTO t(v) VALUES (randomblob(100));\n"
            print()
            print("| shell run (instructions, callgrind) | without holder | with holder | ratio |")
            print("| --- | ---: | ---: | ---: |")
            for name, sql in [("1000 autocommit INSERTs, then close", many_inserts),
                              ("one INSERT, then close", one_insert)]:
                counts = {}
                for held in (False, True):
                    fresh = os.path.join(work, f"insn-{len(sql)}-{held}.db")
                    wal_db(fresh)
                    h = start_holder(fresh) if held else None
                    instructions(fresh, one_insert)  # the same state for both: one run before
                    counts[held] = instructions(fresh, sql)
                    if h:
                        stop(h)
                print(f"| {name} | {counts[False]:,} | {counts[True]:,} | {counts[True] / counts[False]:.3f} |")
            print()
        # Memory: one holder for 1 and for 100 databases.
        many = []
        for i in range(100):
            p = os.path.join(work, f"m{i}.db")
            wal_db(p)
            many.append(p)
        for n in (1, 100):
            h = start_holder(*many[:n])
            print(f"holder RSS with {n} database(s) held: {rss_kib(h.pid)} KiB")
            stop(h)
        size = os.path.getsize(HOLD)
        print(f"binary: {size // 1024} KiB (dynamically linked to the system libsqlite3)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
