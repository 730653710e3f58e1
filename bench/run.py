#!/usr/bin/env python3
"""make bench: every workload with the bare default VFS and with walguard, in one run.

Two measures per workload:
  - instructions, counted by valgrind's callgrind (repeatable on a noisy shared machine);
  - wall time, the median of ROUNDS interleaved runs (bare and walguard alternate, and
    which goes first alternates too), with min and max.
Both processes of a pair load walguard; the bare one opens its database through "bare" (a copy
of the default VFS registered before the load, which walguard does not wrap) by name, so the ratio shows only what walguard adds per operation. The fixed cost of loading
the library is measured once, separately (a process that loads it against one that does
not).

The goal is at most GOAL extra instructions on every workload; each row says whether it
is met. bench/budget.tsv holds the instruction ratio each workload may not exceed (the
measured figure plus a margin): the run exits 1 when one does, so a regression fails.

Usage: bench/run.py BUILD_DIR SPEEDTEST1_C [--rounds N]
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

GOAL = 0.002  # at most 0.2% more instructions than the bare VFS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "libwalguard.so")


def build(build_dir, speedtest_c):
    os.makedirs(build_dir, exist_ok=True)
    bench = os.path.join(build_dir, "bench")
    speedtest = os.path.join(build_dir, "speedtest1")
    here = os.path.join(ROOT, "bench")
    subprocess.run(["gcc", "-O2", "-o", bench, os.path.join(here, "bench.c"), "-lsqlite3"], check=True)
    speedtest_o = os.path.join(build_dir, "speedtest1.o")
    subprocess.run(["gcc", "-O2", "-c", "-Dmain=speedtest1_main", "-o", speedtest_o, speedtest_c], check=True)
    subprocess.run(["gcc", "-O2", "-o", speedtest, speedtest_o, os.path.join(here, "speedtest_main.c"),
                    "-lsqlite3", "-lm"], check=True)
    return bench, speedtest


def workloads(bench, speedtest):
    def simple(name):
        return lambda vfs, d: [bench, name, vfs, d]

    def speed(journal, size):
        return lambda vfs, d: [speedtest, "--vfs", vfs, "--journal", journal, "--size", str(size),
                               "--nosync", os.path.join(d, "speed.db")]

    return [
        ("wal-commits", "small WAL commits (3000, synchronous=OFF, then checkpoint)", simple("wal-commits"), simple("wal-commits")),
        ("rollback-commits", "small rollback commits (3000, DELETE, synchronous=OFF)", simple("rollback-commits"), simple("rollback-commits")),
        ("rollback-commits-normal", "small rollback commits (200, DELETE, synchronous=NORMAL)", simple("rollback-commits-normal"),
         simple("rollback-commits-normal")),
        ("wal-reads", "WAL reads (20000 point queries, tiny cache)", simple("wal-reads"), simple("wal-reads")),
        ("wal-reads-mmap", "WAL reads with mmap_size=256M", simple("wal-reads-mmap"), simple("wal-reads-mmap")),
        # callgrind is ~50x slower: a smaller speedtest1 for the instruction count.
        ("speedtest1-wal", "speedtest1 --journal wal", speed("wal", 5), speed("wal", 25)),
        ("speedtest1-delete", "speedtest1 --journal delete", speed("delete", 5), speed("delete", 25)),
    ]


# Commits per run of each commit workload (bench.c), for the per-commit figures.
COMMITS = {"wal-commits": 3000, "rollback-commits": 3000, "rollback-commits-normal": 200}


def syscalls(make_argv, vfs):
    """Every system call the run makes (strace -c), loading included."""
    with tempfile.TemporaryDirectory() as d, tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["strace", "-f", "-c", "-o", out.name] + make_argv(vfs, d), check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, WALGUARD_LIB=LIB))
        total = [line for line in out.read().splitlines() if line.rstrip().endswith("total")][-1].split()
    return int(total[3]) if len(total) >= 5 else int(total[2])


def instructions(make_argv, vfs):
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + make_argv(vfs, d),
                             check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, WALGUARD_LIB=LIB)).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 11
    bench, speedtest = build(sys.argv[1], sys.argv[2])
    budget = {}
    for line in open(os.path.join(ROOT, "bench", "budget.tsv")):
        if line.strip() and not line.startswith("#"):
            key, ratio = line.split()
            budget[key] = float(ratio)
    rows, over = [], []
    load = [instructions(lambda vfs, d: [bench, "none", "bare", d, "--no-load"], "bare"),
            instructions(lambda vfs, d: [bench, "none", "bare", d], "bare")]
    for key, name, small, full in workloads(bench, speedtest):
        ins = {vfs: instructions(small, vfs) for vfs in ("bare", "walguard")}
        calls = {vfs: syscalls(small, vfs) for vfs in ("bare", "walguard")} if key in COMMITS else None
        times = {"bare": [], "walguard": []}
        for r in range(rounds):
            order = ("bare", "walguard") if r % 2 == 0 else ("walguard", "bare")
            for vfs in order:
                with tempfile.TemporaryDirectory() as d:
                    start = time.perf_counter()
                    subprocess.run(full(vfs, d), check=True, stdout=subprocess.DEVNULL,
                                   env=dict(os.environ, WALGUARD_LIB=LIB))
                    times[vfs].append(time.perf_counter() - start)
        ratio = ins["walguard"] / ins["bare"]
        med = {v: statistics.median(t) for v, t in times.items()}
        rows.append((key, name, ins["bare"], ins["walguard"], ratio, med, times, calls))
        if ratio > budget[key]:
            over.append(f"{key} ({ratio:.5f} > budget {budget[key]})")

    print(f"machine: {os.cpu_count()} cores, {os.uname().machine}, system SQLite (bench and speedtest1 link -lsqlite3)")
    print(f"fixed cost of loading walguard: {load[1] - load[0]:+,} instructions (once per process)")
    print(f"wall time: median of {rounds} interleaved runs per side")
    print()
    print(f"| workload | instructions bare | instructions walguard | instructions ratio | goal +{GOAL:.1%} | syscalls per commit, extra | wall ratio (median) | wall bare min/med/max ms | wall walguard min/med/max ms |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for key, name, bare, guarded, ratio, med, times, calls in rows:
        spread = {v: "/".join(f"{x * 1000:.1f}" for x in (min(t), med[v], max(t))) for v, t in times.items()}
        per_commit = f" (+{(guarded - bare) / COMMITS[key]:.0f} instructions per commit)" if key in COMMITS else ""
        goal = ("met" if ratio - 1 <= GOAL else "not met") + per_commit
        extra_calls = f"{(calls['walguard'] - calls['bare']) / COMMITS[key]:+.2f}" if calls else ""
        print(f"| {name} | {bare:,} | {guarded:,} | {ratio:.5f} | {goal} | {extra_calls} | {med['walguard'] / med['bare']:.3f} | {spread['bare']} | {spread['walguard']} |")
    print()
    if over:
        print(f"bench: {len(rows) - len(over)} passed, {len(over)} failed (over budget: {', '.join(over)})")
        sys.exit(1)
    print(f"bench: {len(rows)} passed, 0 failed (every workload within its budget in bench/budget.tsv)")


main()
