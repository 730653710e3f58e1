#!/usr/bin/env python3
"""make sqlite-suite: SQLite's own TCL tests with walguard as the default VFS.

Each test file runs twice in testfixture (built from Debian's source of the system SQLite),
as the unprivileged user nobody, in a fresh directory: without walguard and with it. A test
that fails only with walguard must be listed in expected-failures.txt with its reason
(a deliberate WAL -> rollback transition, or a consequence of one in the same file);
anything else, a crash, or an expectation that no longer happens, fails the run.

Usage: sqlite-suite/run.py TESTFIXTURE TESTDIR [FILE-PATTERN...]
"""
import concurrent.futures
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "libwalguard.so")
FILES = ["wal*.test", "walmode.test", "walnoshm.test", "walfault*.test", "jrnlmode*.test", "journal*.test",
         "pager1.test", "pager2.test", "exclusive*.test", "backup*.test", "vacuum*.test"]
TIMEOUT = 900
FAIL_LINE = re.compile(r"^! (\S+) expected:")
ERROR_AFTER = re.compile(r"^(\S+)\.\.\.\s*$")
SUMMARY = re.compile(r"^(\d+) errors out of (\d+) tests")


def run(testfixture, testfile, lib):
    work = tempfile.mkdtemp(prefix="walguard-suite.")
    os.chmod(work, 0o777)
    try:
        proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", testfixture,
                               os.path.join(HERE, "run-one.tcl"), testfile, lib],
                              cwd=work, capture_output=True, text=True, errors="replace", timeout=TIMEOUT)
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, code = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed, last, errors, tests = set(), None, None, None
    for line in out.splitlines():
        if m := ERROR_AFTER.match(line):
            last = m.group(1)
        elif line.startswith("Error:") and last:
            failed.add(last)
        elif m := FAIL_LINE.match(line):
            failed.add(m.group(1))
        elif m := SUMMARY.match(line):
            errors, tests = int(m.group(1)), int(m.group(2))
    crashed = code == "timeout" or tests is None
    return {"failed": failed, "errors": errors, "tests": tests, "crashed": crashed, "code": code, "tail": out[-2000:]}


def load_expected():
    expected = {}
    for line in open(os.path.join(HERE, "expected-failures.txt")):
        if line.strip() and not line.startswith("#"):
            file, test, reason = line.rstrip("\n").split(None, 2)
            expected[(file, test)] = reason
    return expected


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    testfixture, testdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    patterns = sys.argv[3:] or FILES
    names = sorted({n for n in os.listdir(testdir) for p in patterns if fnmatch.fnmatch(n, p)})
    expected = load_expected()
    jobs = [(n, lib) for n in names for lib in ("none", LIB)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip(jobs, pool.map(lambda j: run(testfixture, os.path.join(testdir, j[0]), j[1]), jobs)))
    problems, totals, only_walguard, both = [], [0, 0], 0, 0
    for name in names:
        bare, guarded = results[(name, "none")], results[(name, LIB)]
        if guarded["crashed"]:
            problems.append(f"{name}: with walguard it did not finish (exit {guarded['code']}):\n{guarded['tail']}")
            continue
        totals[0] += guarded["tests"] or 0
        totals[1] += bare["tests"] or 0
        new = guarded["failed"] - bare["failed"]
        both += len(guarded["failed"] & bare["failed"])
        only_walguard += len(new)
        for test in sorted(new):
            if (name, test) not in expected:
                problems.append(f"{name}: {test} fails only with walguard and is not in expected-failures.txt")
        for (file, test), reason in expected.items():
            if file == name and test not in new:
                problems.append(f"{name}: {test} is expected to fail with walguard ({reason}) but did not")
        print(f"{name}: {guarded['tests']} tests, {len(guarded['failed'])} failed with walguard "
              f"({len(new)} only with walguard), {len(bare['failed'])} failed without")
    print()
    print(f"files: {len(names)}")
    print(f"tests run with walguard: {totals[0]}, without: {totals[1]}")
    print(f"failures only with walguard: {only_walguard}, all listed with their reason in expected-failures.txt"
          if not problems else f"failures only with walguard: {only_walguard}")
    print(f"failures with and without walguard (the environment, not walguard): {both}")
    for p in problems:
        print("PROBLEM", p)
    print(f"sqlite-suite: {len(names) - len({p.split(':')[0] for p in problems})} passed, "
          f"{len({p.split(':')[0] for p in problems})} failed")
    sys.exit(1 if problems else 0)


main()
