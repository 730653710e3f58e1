#!/usr/bin/env python3
"""The seed story as a long soak: guarded and unguarded workers, walguard-hold, SIGKILLs.

  tests/stress/soak.py SECONDS OUTDIR

Five worker processes (tests/stress/worker.py) share one WAL database that walguard-hold
holds: a guarded "wal" worker, a guarded "attach-fallback" worker (the fallback through an
ATTACH, which only the header-write layer sees), an unguarded "wal" and an unguarded
"fallback" worker (they never load walguard: only the holder stands in their way), and one
guarded "fallback" worker that is never killed: the long-lived guarded process, which
connects, is refused, writes and disconnects for the whole run. The driver SIGKILLs and
restarts one of the other four at random every 0.1 to 0.5 s and samples the header every
10 ms; every SAMPLE_EVERY seconds it records the resident set size (VmRSS) and the number of
open descriptors of the long-lived worker and of the holder (OUTDIR/samples.tsv) and prints
the running figures, so a run cut short still leaves them.

At the end it fails unless: no downgrade succeeded, every header sample was 2,2,
integrity_check is ok, every logged commit is in the database, something was exercised
(commits, refusals, downgrades stopped by the holder), the long-lived worker and the holder
lived to the end, and neither grew: after a warm-up (the first WARMUP_FRACTION of the run),
the median RSS of the last tenth of the samples is within 10 % (or 2 MiB) of the median of
the tenth after the warm-up, and the same for the open descriptors' floor (the fewest seen in
each sampling period, read every 10 ms: a connection's files come and go, a leaked one stays).
"""
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "libwalguard")
HOLD = os.path.join(ROOT, "walguard-hold")
# (role, library): the last one is the long-lived guarded worker, never killed.
WORKERS = [("wal", LIB), ("attach-fallback", LIB), ("wal", "none"), ("fallback", "none"), ("fallback", LIB)]
LONG_LIVED = len(WORKERS) - 1
SAMPLE_EVERY = 10.0
WARMUP_FRACTION = 0.1


def header(path):
    with open(path, "rb") as f:
        data = f.read(20)
    return (data[18], data[19]) if len(data) == 20 else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def count_events(logs):
    events = []
    for log in logs:
        with open(log + ".events") as f:
            events += [line.strip() for line in f]
    return {
        "downgrades": sum(1 for e in events if e in ("pragma delete", "attached delete")),
        "refused": sum(1 for e in events if e == "refused"),
        "refused_at_header": sum(1 for e in events if e == "refused at the header"),
        "locked": sum(1 for e in events if e == "error database is locked"),
        "other_errors": sorted({e for e in events if e.startswith("error ") and e != "error database is locked"}),
    }


def count_logged(logs):
    logged = set()
    for log in logs:
        with open(log) as f:
            logged.update(int(line) for line in f if line.strip().isdigit())
    return logged


def grew(values, warm, label, unit, slack):
    """A failure message if the series grew after the warm-up (by more than 10 % and `slack`), else None."""
    steady = values[warm:]
    if len(steady) < 20:
        return f"{label}: too few samples after the warm-up ({len(steady)}) to tell"
    tenth = max(1, len(steady) // 10)
    early, late = statistics.median(steady[:tenth]), statistics.median(steady[-tenth:])
    if late > early * 1.10 and late - early > slack:
        return f"{label}: {unit} grew from {early:.0f} (median after the warm-up) to {late:.0f} (median at the end)"
    return None


def main():
    seconds = float(sys.argv[1])
    out = os.path.abspath(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, "app.db")
    for name in os.listdir(work):
        os.unlink(os.path.join(work, name))
    # Copies of the library and the holder: an hour is long enough for someone to rebuild
    # them in the tree, and a worker restarted after that would load another build.
    lib, hold = os.path.join(work, "libwalguard.so"), os.path.join(work, "walguard-hold")
    shutil.copy2(LIB + ".so", lib)
    shutil.copy2(HOLD, hold)
    workers_spec = [(role, lib if chosen != "none" else "none") for role, chosen in WORKERS]
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who INTEGER)")
    setup.commit()
    setup.close()
    hold_log = open(os.path.join(out, "hold.log"), "w+")
    holder = subprocess.Popen([hold, "--interval", "0.1", db], stderr=hold_log)
    deadline = time.monotonic() + 10
    while "holding" not in open(hold_log.name).read():
        if time.monotonic() > deadline:
            raise SystemExit("walguard-hold did not hold the database: " + open(hold_log.name).read())
        time.sleep(0.01)
    logs = [os.path.join(work, f"worker{i}.log") for i in range(len(WORKERS))]
    for log in logs:
        open(log, "w").close()
        open(log + ".events", "w").close()

    def start(i):
        role, worker_lib = workers_spec[i]
        return subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "stress", "worker.py"), db, logs[i], worker_lib,
                                 role, str(i + 1)], stderr=open(os.path.join(out, f"worker{i}.stderr"), "a"))

    rng = random.Random(3)
    workers = [start(i) for i in range(len(WORKERS))]
    long_lived_pid = workers[LONG_LIVED].pid
    samples_file = open(os.path.join(out, "samples.tsv"), "w", buffering=1)
    samples_file.write("elapsed_s\tworker_rss_kib\tworker_fds_min\tworker_fds_max\tholder_rss_kib\tholder_fds_min\t"
                       "holder_fds_max\tcommits\tkills\n")
    series = []  # (elapsed, worker rss, worker fds floor, worker fds max, holder rss, holder fds floor, holder fds max)
    window = {"worker": [], "holder": []}
    header_samples, bad_samples, kills = 0, [], 0
    start_time = time.monotonic()
    end = start_time + seconds
    next_kill = start_time + rng.uniform(0.1, 0.5)
    next_sample = start_time
    lost = []
    while time.monotonic() < end:
        now = time.monotonic()
        h = header(db)
        header_samples += 1
        if h != (2, 2):
            bad_samples.append(h)
        if now >= next_kill:
            i = rng.randrange(len(WORKERS) - 1)
            workers[i].send_signal(signal.SIGKILL)
            workers[i].wait()
            kills += 1
            workers[i] = start(i)
            next_kill = now + rng.uniform(0.1, 0.5)
        if workers[LONG_LIVED].poll() is not None or holder.poll() is not None:
            lost.append(f"at {now - start_time:.0f}s: long-lived worker exit {workers[LONG_LIVED].poll()}, "
                        f"holder exit {holder.poll()}")
            break
        window["worker"].append(fds(long_lived_pid))
        window["holder"].append(fds(holder.pid))
        if now >= next_sample:
            next_sample += SAMPLE_EVERY
            row = (now - start_time, rss_kib(long_lived_pid), min(window["worker"]), max(window["worker"]),
                   rss_kib(holder.pid), min(window["holder"]), max(window["holder"]))
            window = {"worker": [], "holder": []}
            series.append(row)
            commits = len(count_logged(logs))
            samples_file.write("\t".join(str(round(v)) for v in row) + f"\t{commits}\t{kills}\n")
            if len(series) % 30 == 1:
                ev = count_events(logs)
                print(f"[{row[0]:6.0f}s] commits {commits}, kills {kills}, refused {ev['refused']} + "
                      f"{ev['refused_at_header']} at the header, stopped by the holder {ev['locked']}, "
                      f"downgrades {ev['downgrades']}, header samples {header_samples} ({len(bad_samples)} not 2,2), "
                      f"worker RSS {row[1]} KiB fds {row[2]}..{row[3]}, holder RSS {row[4]} KiB fds {row[5]}..{row[6]}", flush=True)
        time.sleep(0.01)
    elapsed = time.monotonic() - start_time
    for w in workers:
        w.send_signal(signal.SIGKILL)
        w.wait()
    holder.send_signal(signal.SIGTERM)
    holder_code = holder.wait()
    hold_log.seek(0)
    hold_lines = hold_log.read().splitlines()

    logged = count_logged(logs)
    ev = count_events(logs)
    check = sqlite3.connect(db)
    integrity = [r[0] for r in check.execute("PRAGMA integrity_check").fetchall()][:3]
    present = {row[0] for row in check.execute("SELECT id FROM t")}
    check.close()
    missing = len(logged - present)
    warm = int(len(series) * WARMUP_FRACTION)
    w_rss, w_fds, w_fds_max = [r[1] for r in series], [r[2] for r in series], [r[3] for r in series]
    h_rss, h_fds, h_fds_max = [r[4] for r in series], [r[5] for r in series], [r[6] for r in series]

    def span(values):
        steady = values[warm:] or values
        return f"{min(steady)}..{max(steady)}" if steady else "none"

    print(f"soak: {elapsed:.0f}s, {len(WORKERS)} workers (2 unguarded) and walguard-hold, {kills} SIGKILLs, "
          f"{len(logged)} commits logged and verified ({missing} missing), {ev['refused']} downgrade attempts refused "
          f"by walguard's pragma layer and {ev['refused_at_header']} at the header, {ev['locked']} stopped by the "
          f"holder (database is locked), {ev['downgrades']} succeeded, {header_samples} header samples, "
          f"{len(bad_samples)} not 2,2, integrity_check {integrity}")
    print(f"long-lived guarded worker (pid {long_lived_pid}), {len(series)} samples every {SAMPLE_EVERY:.0f}s: "
          f"RSS {w_rss[0] if w_rss else '?'} KiB at start, {span(w_rss)} KiB after the warm-up, "
          f"{w_rss[-1] if w_rss else '?'} KiB at the end; open descriptors: floor {span(w_fds)}, "
          f"highest {max(w_fds_max[warm:] or [0])} after the warm-up")
    print(f"walguard-hold (pid {holder.pid}): RSS {span(h_rss)} KiB after the warm-up, descriptors: floor {span(h_fds)}, "
          f"highest {max(h_fds_max[warm:] or [0])}; "
          f"exit {holder_code}; log: {hold_lines}")
    if ev["other_errors"]:
        print(f"other errors seen by workers (reported, not failures): {ev['other_errors']}")
    failures = list(lost)
    if elapsed < seconds * 0.99:
        failures.append(f"the run stopped early, at {elapsed:.0f}s of {seconds:.0f}s")
    if ev["downgrades"] or bad_samples or header(db) != (2, 2):
        failures.append(f"a downgrade got through: {ev['downgrades']} succeeded, samples not 2,2: {bad_samples[:5]}")
    if integrity != ["ok"]:
        failures.append(f"integrity_check: {integrity}")
    if missing:
        failures.append(f"{missing} committed ids missing")
    if not logged or not ev["refused"] or not ev["locked"]:
        failures.append("the run exercised nothing (no commit, no refusal by walguard or none stopped by the holder)")
    if holder_code != 0 or not hold_lines or "holding" not in hold_lines[0]:
        failures.append(f"walguard-hold did not hold to the end: exit {holder_code}, log {hold_lines}")
    for values, label, unit, slack in ((w_rss, "long-lived worker", "RSS (KiB)", 2048),
                                       (h_rss, "walguard-hold", "RSS (KiB)", 2048),
                                       (w_fds, "long-lived worker", "open descriptors' floor", 0),
                                       (h_fds, "walguard-hold", "open descriptors' floor", 0)):
        message = grew(values, warm, label, unit, slack)
        if message:
            failures.append(message)
    for f in failures:
        print("FAIL:", f)
    print(f"soak: {'1 passed, 0 failed' if not failures else '0 passed, 1 failed'}")
    sys.exit(1 if failures else 0)


main()
