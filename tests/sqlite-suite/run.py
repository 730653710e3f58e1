#!/usr/bin/env python3
"""make sqlite-suite: SQLite's own TCL tests with walguard as the default VFS.

The files: SQLite's `veryquick` set, read from its own test/permutations.test (list-suite.tcl
evaluates it in testfixture), plus EXTRA below: the files veryquick leaves out that concern
WAL, journals, locking and I/O faults and finish in reasonable time (LEFT_OUT says which were
not taken, and why).

Each file runs in its own testfixture process (built from Debian's source of the system
SQLite), as the unprivileged user nobody, in a fresh directory, twice: without walguard and
with it as the default VFS; as many processes at a time as the machine has cores, longest
files first (the durations of the previous run, kept in the log directory). A test that fails
only with walguard must be listed in expected-failures.txt with its reason (a refused
WAL -> rollback switch, or its direct consequence); anything else, a file that does not finish
with walguard, or a listed failure that no longer happens, fails the run. In that list, the
test may be a glob pattern (the numbers of fault-injection iterations move with the number of
calls made); "(aborted-line-N)" is a Tcl error that escaped the test file at its line N and
ended it there, "(unfreed-memory)" and "(files-left-open)" tester.tcl's checks at the end of
a file. A file with an
unexpected result is run once more, both ways, before it counts: a result that does not repeat
is reported as flaky and does not fail the run.

With walguard, every testfixture process a file starts (crashsql's child, whose crash VFS then
wraps walguard; do_multiclient_test's sql2/sql3; `exec`) loads it too: run-one.tcl and
child_init.c, linked into testfixture; walguard_children.test (OWN) checks that it does. The
walguard runs set WALGUARD_LOG, so walguard's own log lines, of the parent and of every child,
end the file's .walguard.log (and come with any failure nobody expected in the summary).

Logs: LOGDIR/<file>.bare.log and LOGDIR/<file>.walguard.log for each file, LOGDIR/summary.txt.

Usage: tests/sqlite-suite/run.py [--jobs N] [--logs DIR] [--timeout S] TESTFIXTURE TESTDIR [FILE-PATTERN...]
  with patterns, only the matching files (of the veryquick set, EXTRA, or TESTDIR/*.test) run.
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(ROOT, "libwalguard.so")

# Files veryquick excludes (its *malloc*, *ioerr*, *fault*, *bigfile*, *_err* patterns and the
# quick set's list of slow files) that concern WAL, journals, locking, the pager and I/O
# faults, and finish in reasonable time: the slowest, walthread.test and walcrash3.test, take
# about 2.5 minutes each way on this 2-core machine, backup_ioerr.test about 75 s.
EXTRA = [
    # WAL
    "walcrash.test", "walcrash2.test", "walcrash3.test", "walfault.test", "walfault2.test",
    "walprotocol.test", "walrofault.test", "walslow.test", "walthread.test", "writecrash.test",
    "snapshot_fault.test", "mmap4.test", "mmapfault.test",
    # rollback journals, the pager, savepoints, backup, vacuum
    "pagerfault.test", "pagerfault2.test", "pagerfault3.test", "rollbackfault.test",
    "savepoint4.test", "savepoint6.test", "savepointfault.test", "tempfault.test", "trans2.test",
    "delete3.test", "backup.test", "backup_ioerr.test", "backup_malloc.test", "vacuum3.test",
    "incrvacuum_ioerr.test", "autovacuum_ioerr2.test", "btreefault.test", "dbpagefault.test",
    # I/O errors, simulated crashes (testfixture's crash VFS), large files
    "ioerr.test", "ioerr2.test", "ioerr3.test", "ioerr4.test", "ioerr5.test", "ioerr6.test",
    "crash.test", "crash2.test", "crash3.test", "crash4.test", "crash5.test", "crash6.test",
    "crash7.test", "sysfault.test", "shared_err.test", "incrblob_err.test", "misc7.test",
    "bigfile.test", "bigfile2.test",
    # out-of-memory loops through the pager, journals and multi-database transactions
    "malloc.test", "malloc3.test", "malloc5.test", "attachmalloc.test",
    # locking between threads of one process
    "thread001.test", "thread002.test", "thread004.test", "thread005.test", "notify2.test",
    # left out of veryquick only because its name matches *fault*
    "default.test",
]
# walguard's own files, run the same way (from this directory): the harness's check that the
# processes a test file starts are guarded too.
OWN = ["walguard_children.test"]
# Files near that subject that are not run, and why (printed in the summary).
LEFT_OUT = {
    "thread003.test": "the page cache hammered from threads, not I/O or locking; 90 s each way",
    "async.test, async2.test, async3.test": "the asynchronous-I/O VFS of ext/async: needs a build "
        "with SQLITE_ENABLE_ASYNCIO (async.test is in none of permutations.test's sets)",
    "crash5.test": "runs, but skips its tests: needs SQLITE_ENABLE_MEMORY_MANAGEMENT, which changes "
        "how the page cache releases memory in every other file too",
    "other malloc*.test, *fault.test, *_err.test": "out-of-memory and fault loops in the parser, "
        "VDBE, FTS, R-Tree, ALTER and functions: no journal or WAL code path walguard sees",
    "corrupt*.test, fuzz*.test": "corrupt database content, not I/O faults",
    "speed*.test, sort3.test, sort4.test, bigsort.test": "timing and sorting, several minutes each",
    "all.test, quick.test, full.test, veryquick.test, soak.test, mallocAll.test, memleak.test, "
    "permutations.test, extraquick.test": "runners of other files",
}
# Seconds a file takes, for ordering a first run (later runs use the durations of the last one):
# the longest start first, so that they do not end the run alone.
SLOW = {"walthread.test": 150, "walcrash3.test": 150, "backup_ioerr.test": 75, "savepoint6.test": 50,
        "pagerfault2.test": 30, "pagerfault.test": 25, "walprotocol.test": 20, "thread004.test": 20,
        "malloc.test": 20, "walslow.test": 17, "walsetlk.test": 15, "tempfault.test": 15,
        "crash.test": 14, "savepoint4.test": 13}
TIMEOUT = 900
FAIL_LIST = re.compile(r"^!Failures on these tests:(.*)$")
FAIL_LINE = re.compile(r"^! (\S+) expected:")
ERROR_AFTER = re.compile(r"^(\S+)\.\.\.\s*$")
SUMMARY = re.compile(r"^(\d+) errors out of (\d+) tests")


def suite_files(testfixture, testdir, suite="veryquick"):
    """The files of SQLite's SUITE, as test/permutations.test defines it."""
    work = tempfile.mkdtemp(prefix="walguard-list.")
    try:
        out = subprocess.run([testfixture, os.path.join(HERE, "list-suite.tcl"), testdir, suite],
                             cwd=work, capture_output=True, text=True, check=True).stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = [os.path.realpath(line) for line in out.splitlines() if line.endswith(".test")]
    if len(files) < 100:
        sys.exit(f"list-suite.tcl listed only {len(files)} files of {suite}:\n{out}")
    return files


def parse(out, code):
    failed, last, errors, tests = set(), None, None, None
    for line in out.splitlines():
        if m := FAIL_LIST.match(line):
            failed.update(m.group(1).split())
        elif m := ERROR_AFTER.match(line):
            last = m.group(1)
        elif line.startswith("Error:") and last:
            failed.add(last)
        elif m := FAIL_LINE.match(line):
            failed.add(m.group(1))
        elif m := SUMMARY.match(line):
            errors, tests = int(m.group(1)), int(m.group(2))
        elif line.startswith("Unfreed memory:"):
            failed.add("(unfreed-memory)")
        elif line.endswith("files were left open"):
            failed.add("(files-left-open)")
        elif line.startswith("walguard_suite_init: could not load"):
            failed.add("(child-not-guarded)")  # child_init.c: a child ran without walguard
    if any(t.startswith("(aborted-line-") for t in failed):
        # the handles of a file stopped midway are still open when run-one.tcl finishes it
        failed -= {"(unfreed-memory)", "(files-left-open)"}
    crashed = code == "timeout" or tests is None
    return {"failed": failed, "errors": errors, "tests": tests, "crashed": crashed, "code": code}


def run(testfixture, testdir, path, lib, log, timeout):
    work = tempfile.mkdtemp(prefix="walguard-suite.")
    os.chmod(work, 0o777)
    # walguard's own log lines (WALGUARD_LOG), of the parent and of every child, in a directory
    # of their own (test files delete files in theirs), appended to the file's log.
    logdir = tempfile.mkdtemp(prefix="walguard-suite-log.")
    os.chmod(logdir, 0o777)
    walguard_log = os.path.join(logdir, "walguard.log")
    env = dict(os.environ)
    env.pop("WALGUARD_LOG", None)
    if lib != "none":
        env["WALGUARD_LOG"] = walguard_log
    start = time.monotonic()
    try:
        proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", testfixture,
                               os.path.join(HERE, "run-one.tcl"), testdir, path, lib],
                              cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                              errors="replace", text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        out, code = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += f"\n[run.py: killed after {timeout} s]\n"
        code = "timeout"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - start
    try:
        with open(walguard_log, errors="replace") as f:
            walguard_lines = f.read().splitlines()
    except FileNotFoundError:
        walguard_lines = []
    shutil.rmtree(logdir, ignore_errors=True)
    with open(log, "w") as f:
        f.write(out)
        f.write(f"\n[run.py: exit {code}, {seconds:.1f} s]\n")
        if lib != "none":
            f.write(f"[run.py: {len(walguard_lines)} lines of walguard's own log (WALGUARD_LOG), every process]\n")
            f.writelines(line + "\n" for line in walguard_lines)
    result = parse(out, code)
    result["seconds"] = seconds
    result["walguard_lines"] = walguard_lines
    result["tail"] = out[-1500:]
    return result


def load_expected():
    expected = {}
    for line in open(os.path.join(HERE, "expected-failures.txt")):
        if line.strip() and not line.startswith("#"):
            file, test, reason = line.rstrip("\n").split(None, 2)
            expected[(file, test)] = reason
    return expected


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--logs", default=os.path.join(ROOT, "build", "sqlite-suite"))
    ap.add_argument("--timeout", type=int, default=TIMEOUT)
    ap.add_argument("testfixture")
    ap.add_argument("testdir")
    ap.add_argument("patterns", nargs="*")
    args = ap.parse_args()
    testfixture, testdir = os.path.abspath(args.testfixture), os.path.realpath(args.testdir)
    started = time.monotonic()

    veryquick = suite_files(testfixture, testdir)
    candidates = veryquick + [os.path.join(testdir, n) for n in EXTRA] + [os.path.join(HERE, n) for n in OWN]
    if args.patterns:
        candidates += [os.path.join(testdir, n) for n in os.listdir(testdir) if n.endswith(".test")]
        candidates = [p for p in candidates if any(fnmatch.fnmatch(os.path.basename(p), pat) for pat in args.patterns)]
    paths = {}
    for p in candidates:
        paths.setdefault(os.path.basename(p), p)
    names = sorted(paths)
    if not names:
        sys.exit("no test file matches")
    extra = [n for n in names if paths[n] not in veryquick]
    for n in EXTRA:
        if not os.path.exists(os.path.join(testdir, n)):
            sys.exit(f"EXTRA names {n}, which is not in {testdir}")

    os.makedirs(args.logs, exist_ok=True)
    times_file = os.path.join(args.logs, "times.json")
    try:
        previous = json.load(open(times_file))
    except (OSError, ValueError):
        previous = {}
    jobs = [(n, lib) for n in names for lib in ("none", LIB)]
    jobs.sort(key=lambda j: -previous.get(j[0], {}).get("walguard" if j[1] != "none" else "bare", SLOW.get(j[0], 1.0)))
    expected = load_expected()
    print(f"sqlite-suite: {len(names)} files ({len(names) - len(extra)} of veryquick, {len(extra)} more), "
          f"each with and without walguard, {args.jobs} at a time; logs in {args.logs}", flush=True)

    lock, done = threading.Lock(), [0]

    def one(job):
        name, lib = job
        side = "bare" if lib == "none" else "walguard"
        r = run(testfixture, testdir, paths[name], lib, os.path.join(args.logs, f"{name}.{side}.log"), args.timeout)
        with lock:
            done[0] += 1
            if done[0] % 200 == 0 or done[0] == len(jobs):
                print(f"  {done[0]}/{len(jobs)} runs, {time.monotonic() - started:.0f} s", flush=True)
        return r

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = dict(zip(jobs, pool.map(one, jobs)))

    def explain(name, test):
        for (f, pattern), reason in expected.items():
            if f == name and fnmatch.fnmatchcase(test, pattern):
                return reason
        return None

    def verdict(name, bare, guarded):
        new = guarded["failed"] - bare["failed"]
        unexpected = sorted(t for t in new if explain(name, t) is None)
        missing = sorted(p for (f, p) in expected if f == name and not any(fnmatch.fnmatchcase(t, p) for t in new))
        return new, unexpected, missing

    def walguard_said(result):
        """walguard's own log lines of a run, for a failure nobody expected (the first few)."""
        said = result.get("walguard_lines") or []
        if not said:
            return "; walguard logged nothing"
        return f"; walguard's log ({len(said)} lines):\n    " + "\n    ".join(said[:8])

    problems, flaky, lines, only = [], [], [], []
    totals = {"tests_g": 0, "tests_b": 0, "fail_g": 0, "fail_b": 0, "both": 0, "only": 0}
    for name in names:
        bare, guarded = results[(name, "none")], results[(name, LIB)]
        new, unexpected, missing = verdict(name, bare, guarded)
        if guarded["crashed"] or bare["crashed"] or unexpected or missing:
            # Once more, both ways, one at a time: timing-dependent tests exist.
            again_b = run(testfixture, testdir, paths[name], "none", os.path.join(args.logs, f"{name}.bare.rerun.log"), args.timeout)
            again_g = run(testfixture, testdir, paths[name], LIB, os.path.join(args.logs, f"{name}.walguard.rerun.log"), args.timeout)
            new2, unexpected2, missing2 = verdict(name, again_b, again_g)
            if again_g["crashed"] == guarded["crashed"] and again_b["crashed"] == bare["crashed"] \
                    and unexpected2 == unexpected and missing2 == missing:
                pass  # it repeats
            else:
                flaky.append(f"{name}: first run: walguard-only {sorted(new)}, crashed {guarded['crashed']}/{bare['crashed']}; "
                             f"second run: walguard-only {sorted(new2)}, crashed {again_g['crashed']}/{again_b['crashed']}"
                             + walguard_said(guarded))
                bare, guarded = again_b, again_g
                new, unexpected, missing = new2, unexpected2, missing2
        if guarded["crashed"]:
            problems.append(f"{name}: with walguard it did not finish (exit {guarded['code']}), "
                            f"see {name}.walguard.log:\n{guarded['tail']}")
        if bare["crashed"]:
            lines.append(f"{name}: without walguard it did not finish (exit {bare['code']})")
        for t in unexpected:
            problems.append(f"{name}: {t} fails only with walguard and is not in expected-failures.txt"
                            + walguard_said(guarded))
        for t in missing:
            problems.append(f"{name}: {t} is expected to fail with walguard "
                            f"({expected[(name, t)]}) but did not")
        totals["tests_g"] += guarded["tests"] or 0
        totals["tests_b"] += bare["tests"] or 0
        totals["fail_g"] += len(guarded["failed"])
        totals["fail_b"] += len(bare["failed"])
        totals["both"] += len(guarded["failed"] & bare["failed"])
        totals["only"] += len(new)
        only += [(name, t) for t in sorted(new)]
        if guarded["failed"] or bare["failed"]:
            lines.append(f"{name}: {guarded['tests']} tests, {len(guarded['failed'])} failed with walguard "
                         f"({len(new)} only with walguard), {len(bare['failed'])} failed without "
                         f"({len(bare['failed'] - guarded['failed'])} only without)")

    elapsed = time.monotonic() - started
    json.dump({n: {"bare": results[(n, "none")]["seconds"], "walguard": results[(n, LIB)]["seconds"]}
               for n in names} | {k: v for k, v in previous.items() if k not in names},
              open(times_file, "w"), indent=0, sort_keys=True)
    report = ["files with failures (either way):"] + ["  " + l for l in lines]
    report += ["", "failures only with walguard:"]
    report += [f"  {f} {t}: {explain(f, t) or 'NOT EXPLAINED'}" for f, t in only]
    if LEFT_OUT and not args.patterns:
        report += ["", "left out (see LEFT_OUT in tests/sqlite-suite/run.py):"]
        report += [f"  {n}: {why}" for n, why in sorted(LEFT_OUT.items())]
    report += ["", f"files: {len(names)} ({len(names) - len(extra)} of veryquick, {len(extra)} more)",
               f"tests: {totals['tests_g']} with walguard, {totals['tests_b']} without",
               f"failures: {totals['fail_g']} with walguard, {totals['fail_b']} without; "
               f"{totals['only']} only with walguard, {totals['both']} both ways (the environment, not walguard)",
               f"walguard's own log lines (WALGUARD_LOG, every process): "
               f"{sum(len(results[(n, LIB)]['walguard_lines']) for n in names)} in "
               f"{sum(1 for n in names if results[(n, LIB)]['walguard_lines'])} files (in each <file>.walguard.log)",
               f"wall time: {elapsed:.0f} s with {args.jobs} jobs"]
    report += [f"FLAKY {f}" for f in flaky]
    report += [f"PROBLEM {p}" for p in problems]
    bad = len({p.split(':')[0] for p in problems})
    report.append(f"sqlite-suite: {len(names) - bad} passed, {bad} failed")
    text = "\n".join(report)
    print(text)
    with open(os.path.join(args.logs, "summary.txt"), "w") as f:
        f.write(text + "\n")
    sys.exit(1 if problems else 0)


main()
