#!/usr/bin/env python3
"""The seed story as a multi-process stress test.

  stress/run.py SECONDS [--control-seconds N]

PROCESSES worker processes (stress/worker.py) share one WAL database, every one of them
through walguard: some set WAL on every connect, some "fall back" to DELETE on every
connect (one on the database as `main`, one through an ATTACH with the pragma unprefixed,
which only the header-write layer sees), all write transactions and log each id after its
commit. The driver samples the
header every few milliseconds and SIGKILLs and restarts workers at random. At the end:
zero successful downgrades, the header was 2,2 at every sample, integrity_check is ok, and
every logged id is in the database.

The same run without walguard (the control) must show downgrades happening, or the test
could not tell a guard from no guard: the run fails if it shows none.
"""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "libwalguard")
PROCESSES = 4
ROLES = ["wal", "fallback", "wal", "attach-fallback"]


def header(path):
    with open(path, "rb") as f:
        data = f.read(20)
    return (data[18], data[19]) if len(data) == 20 else None


def run(seconds, lib, seed):
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="walguard-stress.")
    db = os.path.join(work, "app.db")
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who INTEGER)")
    setup.commit()
    setup.close()
    logs = [os.path.join(work, f"worker{i}.log") for i in range(PROCESSES)]
    for log in logs:
        open(log, "w").close()
        open(log + ".events", "w").close()

    def start(i):
        return subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "stress", "worker.py"), db, logs[i], lib,
                                 ROLES[i], str(i + 1)], stderr=subprocess.DEVNULL)

    workers = [start(i) for i in range(PROCESSES)]
    samples, bad_samples, kills = 0, [], 0
    deadline = time.monotonic() + seconds
    next_kill = time.monotonic() + rng.uniform(0.1, 0.5)
    while time.monotonic() < deadline:
        h = header(db)
        samples += 1
        if h != (2, 2):
            bad_samples.append(h)
        if time.monotonic() >= next_kill:
            i = rng.randrange(PROCESSES)
            workers[i].send_signal(signal.SIGKILL)
            workers[i].wait()
            kills += 1
            workers[i] = start(i)
            next_kill = time.monotonic() + rng.uniform(0.1, 0.5)
        time.sleep(0.003)
    for w in workers:
        w.send_signal(signal.SIGKILL)
        w.wait()

    logged = set()
    for log in logs:
        with open(log) as f:
            logged.update(int(line) for line in f if line.strip().isdigit())
    events = []
    for log in logs:
        with open(log + ".events") as f:
            events += [line.strip() for line in f]
    check = sqlite3.connect(db)  # a plain connection: what any reader would find
    integrity = check.execute("PRAGMA integrity_check").fetchall()
    try:
        present = {row[0] for row in check.execute("SELECT id FROM t")}
    except sqlite3.DatabaseError as e:
        present = set()
        integrity.append((str(e),))
    check.close()
    return {
        "samples": samples, "bad_samples": bad_samples, "kills": kills, "logged": len(logged),
        "missing": len(logged - present), "integrity": [r[0] for r in integrity][:3],
        "downgrades": sum(1 for e in events if e in ("pragma delete", "attached delete")),
        "attached_downgrades": sum(1 for e in events if e == "attached delete"),
        "refused": sum(1 for e in events if e == "refused"),
        "refused_at_header": sum(1 for e in events if e == "refused at the header"),
        "header_at_end": header(db), "work": work,
    }


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    control_seconds = float(sys.argv[sys.argv.index("--control-seconds") + 1]) if "--control-seconds" in sys.argv else seconds
    guarded = run(seconds, LIB, seed=1)
    print(f"with walguard: {PROCESSES} processes for {seconds:.0f}s, {guarded['kills']} SIGKILLs, "
          f"{guarded['logged']} commits logged and verified ({guarded['missing']} missing), "
          f"{guarded['refused']} downgrade attempts refused by the pragma layer and "
          f"{guarded['refused_at_header']} through an ATTACH at the header, {guarded['downgrades']} succeeded, "
          f"{guarded['samples']} header samples, {len(guarded['bad_samples'])} not 2,2, "
          f"integrity_check {guarded['integrity']}")
    control = run(control_seconds, "none", seed=1)
    print(f"control without walguard: {control['kills']} SIGKILLs, {control['downgrades']} downgrades succeeded "
          f"({control['attached_downgrades']} through an ATTACH), "
          f"{len(control['bad_samples'])} of {control['samples']} header samples not 2,2, "
          f"integrity_check {control['integrity']}, {control['missing']} logged commits missing")
    guarded_failures = []
    if guarded["downgrades"] or guarded["bad_samples"] or guarded["header_at_end"] != (2, 2):
        guarded_failures.append("a downgrade got through walguard")
    if guarded["integrity"] != ["ok"]:
        guarded_failures.append(f"integrity_check with walguard: {guarded['integrity']}")
    if guarded["missing"]:
        guarded_failures.append(f"{guarded['missing']} committed ids missing with walguard")
    if guarded["refused"] == 0 or guarded["refused_at_header"] == 0 or guarded["logged"] == 0:
        guarded_failures.append("the guarded run exercised nothing (no refusal at either layer, or no commit)")
    control_failures = []
    if control["downgrades"] == 0 and not control["bad_samples"]:
        control_failures.append("the control showed no downgrade: the test cannot tell a guard from no guard")
    if control["attached_downgrades"] == 0:
        control_failures.append("the control showed no downgrade through an ATTACH: layer 2 was not put to the test")
    for f in guarded_failures + control_failures:
        print("FAIL:", f)
    failed = bool(guarded_failures) + bool(control_failures)
    print(f"stress: {2 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
