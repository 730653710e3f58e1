#!/usr/bin/env python3
"""The seed story as a multi-process stress test.

  tests/stress/run.py SECONDS [--control-seconds N] [--hold | --app]

PROCESSES worker processes (tests/stress/worker.py) share one WAL database, every one of them
through walguard: some set WAL on every connect, some "fall back" to DELETE on every
connect (one on the database as `main`, one through an ATTACH with the pragma unprefixed,
which only the header-write layer sees), all write transactions and log each id after its
commit. The driver samples the
header every few milliseconds and SIGKILLs and restarts workers at random. At the end:
zero successful downgrades, the header was 2,2 at every sample, integrity_check is ok, and
every logged id is in the database.

The same run without walguard (the control) must show downgrades happening, or the test
could not tell a guard from no guard: the run fails if it shows none.

With --hold, half the workers never load walguard (one "wal" and one "fallback" worker) and
walguard-hold holds the database: the same checks, and the unguarded fallback worker must
have been stopped by the holder ("database is locked") at least once. Its control is the
same mix without the holder, which must show downgrades.

With --app, the scenario of issue 28: PROCESSES workers all run the application's connection
code ("app" in worker.py: set WAL, fall back to DELETE when that fails with a marker error),
APP_EIO_WORKERS of them with a transient "disk I/O error" in place of the WAL pragma for
APP_EIO_FRACTION of their connections; one worker SIGKILLed every 0.2 to 1 s. Three runs of
SECONDS each: without walguard (which must show a fallback reaching DELETE or a header not
2,2; a short run that shows none is run again, at most 5 times), with WALGUARD_POLICY=enforce (every fallback refused) and with keep (every fallback
answered "wal"); each guarded run must have zero downgrades, every header sample 2,2,
integrity_check ok and every logged id present.
"""
import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "libwalguard")
HOLD = os.path.join(ROOT, "walguard-hold")
PROCESSES = 4
ROLES = ["wal", "fallback", "wal", "attach-fallback"]
APP_EIO_WORKERS = 2
APP_EIO_FRACTION = 0.3


def header(path):
    with open(path, "rb") as f:
        data = f.read(20)
    return (data[18], data[19]) if len(data) == 20 else None


def start_holder(db, work):
    log = open(os.path.join(work, "hold.log"), "w+")
    holder = subprocess.Popen([HOLD, "--interval", "0.1", db], stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log.seek(0)
        if "holding" in log.read():
            return holder, log
        time.sleep(0.01)
    raise SystemExit("walguard-hold did not hold the database: " + open(log.name).read())


def run(seconds, libs, seed, hold=False, roles=ROLES, options=None, kill_every=(0.1, 0.5)):
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="walguard-stress.")
    db = os.path.join(work, "app.db")
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who INTEGER)")
    setup.commit()
    setup.close()
    holder, hold_log = start_holder(db, work) if hold else (None, None)
    logs = [os.path.join(work, f"worker{i}.log") for i in range(PROCESSES)]
    for log in logs:
        open(log, "w").close()
        open(log + ".events", "w").close()

    def start(i):
        return subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "stress", "worker.py"), db, logs[i], libs[i],
                                 roles[i], str(i + 1)] + (options[i] if options else []), stderr=subprocess.DEVNULL)

    workers = [start(i) for i in range(PROCESSES)]
    samples, bad_samples, kills = 0, [], 0
    deadline = time.monotonic() + seconds
    next_kill = time.monotonic() + rng.uniform(*kill_every)
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
            next_kill = time.monotonic() + rng.uniform(*kill_every)
        time.sleep(0.003)
    for w in workers:
        w.send_signal(signal.SIGKILL)
        w.wait()
    hold_lines = []
    if holder:
        alive = holder.poll() is None
        holder.send_signal(signal.SIGTERM)
        code = holder.wait()
        hold_log.seek(0)
        hold_lines = hold_log.read().splitlines()
        if not alive or code != 0:
            hold_lines.append(f"walguard-hold was not running to the end, or exited {code}")

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
        "downgrades": sum(1 for e in events if e in ("pragma delete", "attached delete", "fallback delete")),
        "attached_downgrades": sum(1 for e in events if e == "attached delete"),
        "refused": sum(1 for e in events if e == "refused"),
        "refused_at_header": sum(1 for e in events if e == "refused at the header"),
        "locked": sum(1 for e in events if e == "error database is locked"),
        "hold_log": hold_lines,
        "header_at_end": header(db), "work": work,
        "injected": sum(1 for e in events if e == "injected disk I/O error"),
        "fallbacks": collections.Counter(e[len("fallback "):] for e in events if e.startswith("fallback ")),
        "failed_commands": collections.Counter(e[len("command failed "):] for e in events if e.startswith("command failed ")),
    }


def describe(counter):
    return ", ".join(f"{n:,} {what}" for what, n in counter.most_common()) or "none"


def main_app(seconds):
    roles = ["app"] * PROCESSES
    options = [["--eio", str(APP_EIO_FRACTION)] if i < APP_EIO_WORKERS else [] for i in range(PROCESSES)]
    failures = []
    print(f"{PROCESSES} processes running the application's connection code, {APP_EIO_WORKERS} of them with a "
          f"transient disk I/O error on the WAL pragma for {APP_EIO_FRACTION:.0%} of their connections, "
          f"one SIGKILLed every 0.2 to 1 s, header sampled every 3 ms, {seconds:.0f}s per run")
    for name, libs, policy in (("without walguard", ["none"] * PROCESSES, None), ("enforce", [LIB] * PROCESSES, "enforce"),
                               ("keep", [LIB] * PROCESSES, "keep")):
        opts = [o + (["--policy", policy] if policy else []) for o in options]
        for attempt in range(1, 6 if policy is None else 2):
            r = run(seconds, libs, seed=2 + attempt, roles=roles, options=opts, kill_every=(0.2, 1.0))
            if policy or r["downgrades"] or r["bad_samples"]:
                break
            # A fallback reaches DELETE only when its process is alone with the file: a short
            # run may see none. Run again (a fresh database), at most 5 runs in all.
            print(f"{name}: no fallback reached DELETE in run {attempt} of at most 5, running again")
        attempted = sum(r["fallbacks"].values())
        print(f"{name}: {r['kills']} SIGKILLs; commits acknowledged / found: {r['logged']:,} / {r['logged'] - r['missing']:,}; "
              f"injected disk I/O errors {r['injected']:,}; fallbacks attempted {attempted:,}: {describe(r['fallbacks'])}; "
              f"header samples not 2,2: {len(r['bad_samples']):,} of {r['samples']:,}; "
              f"commands failed: {sum(r['failed_commands'].values()):,} ({describe(r['failed_commands'])}); "
              f"integrity_check {r['integrity']}")
        if policy is None:
            if r["downgrades"] == 0 and not r["bad_samples"]:
                failures.append("the control showed no fallback reaching DELETE: the test cannot tell a guard from none")
            continue
        if r["downgrades"] or r["bad_samples"] or r["header_at_end"] != (2, 2):
            failures.append(f"{policy}: a downgrade got through walguard")
        if r["integrity"] != ["ok"]:
            failures.append(f"{policy}: integrity_check {r['integrity']}")
        if r["missing"]:
            failures.append(f"{policy}: {r['missing']} committed ids missing")
        if attempted == 0 or r["logged"] == 0:
            failures.append(f"{policy}: the run exercised nothing (no fallback attempted, or no commit)")
        expected = "refused" if policy == "enforce" else "wal"
        if set(r["fallbacks"]) - {expected}:
            failures.append(f"{policy}: every fallback should be answered '{expected}': {describe(r['fallbacks'])}")
        if policy == "keep" and any(what.startswith("walguard") for what in r["failed_commands"]):
            failures.append(f"keep: a command failed on walguard: {describe(r['failed_commands'])}")
    for f in failures:
        print("FAIL:", f)
    print(f"stress --app: {'1 passed, 0 failed' if not failures else '0 passed, 1 failed'}")
    sys.exit(1 if failures else 0)


def main_hold(seconds, control_seconds):
    # Workers 0 and 3 load walguard, 1 ("fallback") and 2 ("wal") never do.
    libs = [LIB, "none", "none", LIB]
    held = run(seconds, libs, seed=2, hold=True)
    print(f"with walguard-hold, workers 1 and 2 without walguard: {PROCESSES} processes for {seconds:.0f}s, "
          f"{held['kills']} SIGKILLs, {held['logged']} commits logged and verified ({held['missing']} missing), "
          f"{held['locked']} downgrade attempts stopped by the holder (database is locked), "
          f"{held['refused']} refused by walguard, {held['downgrades']} succeeded, {held['samples']} header samples, "
          f"{len(held['bad_samples'])} not 2,2, integrity_check {held['integrity']}")
    control = run(control_seconds, libs, seed=2, hold=False)
    print(f"control, the same mix without walguard-hold: {control['kills']} SIGKILLs, "
          f"{control['downgrades']} downgrades succeeded, {len(control['bad_samples'])} of {control['samples']} "
          f"header samples not 2,2, integrity_check {control['integrity']}, {control['missing']} logged commits missing")
    failures = []
    if held["downgrades"] or held["bad_samples"] or held["header_at_end"] != (2, 2):
        failures.append("a downgrade got through walguard-hold")
    if held["integrity"] != ["ok"]:
        failures.append(f"integrity_check with walguard-hold: {held['integrity']}")
    if held["missing"]:
        failures.append(f"{held['missing']} committed ids missing with walguard-hold")
    if held["locked"] == 0 or held["logged"] == 0:
        failures.append("the held run exercised nothing (no downgrade stopped by the holder, or no commit)")
    if len(held["hold_log"]) != 2 or "holding" not in held["hold_log"][0] or "SIGTERM" not in held["hold_log"][1]:
        failures.append(f"walguard-hold should log one 'holding' line and its exit: {held['hold_log']}")
    if control["downgrades"] == 0 and not control["bad_samples"]:
        failures.append("the control showed no downgrade: the test cannot tell a holder from none")
    for f in failures:
        print("FAIL:", f)
    print(f"stress --hold: {'1 passed, 0 failed' if not failures else '0 passed, 1 failed'}")
    sys.exit(1 if failures else 0)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    control_seconds = float(sys.argv[sys.argv.index("--control-seconds") + 1]) if "--control-seconds" in sys.argv else seconds
    if "--hold" in sys.argv:
        main_hold(seconds, control_seconds)
    if "--app" in sys.argv:
        main_app(seconds)
    guarded = run(seconds, [LIB] * PROCESSES, seed=1)
    print(f"with walguard: {PROCESSES} processes for {seconds:.0f}s, {guarded['kills']} SIGKILLs, "
          f"{guarded['logged']} commits logged and verified ({guarded['missing']} missing), "
          f"{guarded['refused']} downgrade attempts refused by the pragma layer and "
          f"{guarded['refused_at_header']} through an ATTACH at the header, {guarded['downgrades']} succeeded, "
          f"{guarded['samples']} header samples, {len(guarded['bad_samples'])} not 2,2, "
          f"integrity_check {guarded['integrity']}")
    control = run(control_seconds, ["none"] * PROCESSES, seed=1)
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
