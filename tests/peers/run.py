#!/usr/bin/python3
"""make peers: other projects' own test suites, without walguard and with it loaded into every
process, compared test by test.

    tests/peers/run.py ROOT [--suite NAME ...] [--mode MODE ...] [--jobs N]

ROOT is the repository root (libwalguard.so, libwalguard_preload.so, packages/sitecustomize and
.deps/peers, which tests/peers/ensure.sh installs). The suites: sqlite-utils's, SQLAlchemy's
SQLite tests twice (as they are, in rollback mode, and with every connection switched to WAL,
which is what walguard guards), diskcache's (WAL throughout). Each runs once plain, then once in
each guarded mode:

  sitecustomize  PYTHONPATH=packages/sitecustomize with WALGUARD_LIB: what a user deploys for Python
  preload        LD_PRELOAD=libwalguard_preload.so: what a user deploys for a whole service

The plugin walguard_probe.py proves inside each run's own interpreter that walguard is loaded
(guarded runs) or not (plain runs). Outcomes come from pytest's JUnit XML. Every test whose
outcome differs from the plain run must be listed in expected-differences.txt; the run fails
on an unexplained difference, on a listed one that no longer happens, on a probe that does not
match its mode, and on a suite that did not run to its end. A difference that does not come
back when its tests run again alone, plain and guarded, is reported as flaky and not counted.
Up to --jobs suites (the number of cores) run side by side, each one's runs in order; a suite's
lines are printed when it ends.
Logs, XML and probes are in build/peers/.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("sitecustomize", "preload")
TIMEOUT_PER_TEST = 300  # pytest-timeout: a hang ends the run with every thread's stack
TIMEOUT_PER_RUN = 1800
RERUN_AT_MOST = 50  # more differing tests than this are no flake: not run again
# Seconds each suite took (its three runs) at the last runs on 2 cores, for the order: with
# --jobs 2 the two SQLAlchemy suites start first, the two short ones follow on the core that
# frees first.
SECONDS = {"sqlalchemy": 500, "sqlalchemy-wal": 335, "diskcache": 90, "sqlite-utils": 75}

_output = threading.local()


def say(text):
    """print(), or, in a thread running a suite, into that suite's lines (printed together
    when the suite ends, so that suites running side by side do not mix their lines)."""
    lines = getattr(_output, "lines", None)
    if lines is None:
        print(text, flush=True)
    else:
        lines.append(text)


def pinned(name):
    """The version of `name` in requirements.txt."""
    for line in (HERE / "requirements.txt").read_text().splitlines():
        found = re.fullmatch(rf"{re.escape(name)}==(\S+)", line.strip(), re.IGNORECASE)
        if found:
            return found.group(1)
    raise SystemExit(f"{name} is not pinned in requirements.txt")


# Each suite: its unpacked sdist, the test paths in it, pytest options, interpreter flags, and
# what runs, for the summary.
SUITES = {
    "sqlite-utils": {
        "src": f"sqlite_utils-{pinned('sqlite-utils')}",
        "paths": ["tests"],
        "note": "the whole suite; SpatiaLite from Debian for tests/test_gis.py",
    },
    "sqlalchemy": {
        "src": f"sqlalchemy-{pinned('SQLAlchemy')}",
        # The SQLite dialect's own tests, the dialect compliance suite, engine and SQL
        # expression tests, against a database file (`--db sqlite_file`: querytest.db in the
        # run's directory) rather than :memory:, which never reaches a VFS's files.
        "paths": ["test/dialect/sqlite", "test/dialect/test_suite.py", "test/engine", "test/sql"],
        "options": ["--db", "sqlite_file"],
        # -s: SQLAlchemy's conftest puts the sdist's lib/ first on sys.path unless the user
        # site is off; with -s the installed build (its Cython extensions) is tested.
        "python_flags": ["-s"],
        "note": "test/dialect/sqlite, test/dialect/test_suite.py, test/engine, test/sql with --db sqlite_file",
    },
    "sqlalchemy-wal": {
        "src": f"sqlalchemy-{pinned('SQLAlchemy')}",
        "paths": ["test/dialect/sqlite", "test/dialect/test_suite.py", "test/engine", "test/sql"],
        # test_pool.py left out: a third of the time, on mock connections and sleeps.
        "options": ["--db", "sqlite_file", "-p", "sqlalchemy_wal", "--ignore", "test/engine/test_pool.py"],
        "python_flags": ["-s"],
        "note": "the same but test/engine/test_pool.py, every connection switched to WAL (sqlalchemy_wal.py)",
    },
    "diskcache": {
        "src": f"diskcache-{pinned('diskcache')}",
        "paths": ["tests"],
        # The sdist ships neither tests/settings.py nor tests/models.py, which this module
        # imports, nor docs/tutorial.rst, which test_tutorial reads.
        "options": ["--ignore", "tests/test_djangocache.py", "--deselect", "tests/test_doctest.py::test_tutorial"],
        "note": "tests/ but test_djangocache.py and test_doctest.py::test_tutorial (their files are not in the sdist)",
    },
}


def environment(root, mode, probe):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WALGUARD_") and k not in ("LD_PRELOAD", "PYTHONPATH", "PYTHONHOME")}
    path = [str(HERE)]  # walguard_probe
    if mode == "sitecustomize":
        path.insert(0, str(root / "packages" / "sitecustomize"))
        env["WALGUARD_LIB"] = str(root / "libwalguard.so")
    elif mode == "preload":
        env["LD_PRELOAD"] = str(root / "libwalguard_preload.so")
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["WALGUARD_PEERS_PROBE"] = str(probe)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the unpacked sdists as they were
    return env


def run_suite(root, out, name, mode, tests=None, tag=""):
    """One pytest run of the suite, or of just `tests` (ids); returns (outcomes, record)."""
    suite = SUITES[name]
    src = root / ".deps" / "peers" / "src" / suite["src"]
    run = f"{mode}{tag}"
    work = out / name / run
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    xml, log, probe = (out / name / f"{run}{ext}" for ext in (".xml", ".log", ".probe.json"))
    for stale in (xml, probe):
        stale.unlink(missing_ok=True)
    command = [str(root / ".deps" / "peers" / "venv" / "bin" / "python"), *suite.get("python_flags", []),
               "-m", "pytest", "-p", "walguard_probe", "-p", "no:cacheprovider",
               f"--rootdir={src}", f"--junitxml={xml}",
               f"--timeout={TIMEOUT_PER_TEST}", "--timeout-method=thread",
               # (--ignore takes a path from the working directory, --deselect an id)
               *(str(src / o) if (src / o).exists() else o for o in suite.get("options", [])),
               *(str(src / t) for t in tests or suite["paths"])]
    started = time.monotonic()
    with open(log, "w") as log_file:
        try:
            # cwd: a directory of its own, for the files a suite leaves where it runs.
            code = subprocess.run(command, cwd=work, env=environment(root, mode, probe),
                                  stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=TIMEOUT_PER_RUN).returncode
        except subprocess.TimeoutExpired:
            code = f"a timeout after {TIMEOUT_PER_RUN} s"
    record = {"seconds": time.monotonic() - started, "code": code, "log": log, "problems": []}
    if code not in (0, 1):  # 1: some tests failed; anything else: the run did not finish
        record["problems"].append(f"pytest ended with {code} (see {log})")
    outcomes, record["messages"] = parse_junit(xml, src) if xml.exists() else ({}, {})
    if not outcomes:
        record["problems"].append(f"no test outcomes in {xml}")
    record["probe"] = json.loads(probe.read_text()) if probe.exists() else None
    record["problems"] += check_probe(record["probe"], mode)
    shutil.rmtree(work, ignore_errors=True)
    return outcomes, record


def confirm(root, out, name, mode, differences):
    """Runs the differing tests again, alone, plain and in `mode`: the ids whose difference
    comes back, and the others (a difference that a second run does not show is a flaky test,
    reported but not counted)."""
    ids = sorted(t for t, (was, now) in differences.items() if "absent" not in (was, now))
    if not ids or len(ids) > RERUN_AT_MOST:
        return set(differences), set()
    plain, plain_record = run_suite(root, out, name, "plain", ids, ".rerun")
    guarded, guarded_record = run_suite(root, out, name, mode, ids, ".rerun")
    if plain_record["problems"] or guarded_record["problems"]:
        return set(differences), set()
    back = {t for t in differences if t not in ids
            or (plain.get(t), guarded.get(t)) == differences[t]}
    return back, set(differences) - back


def parse_junit(xml, src):
    """({test id: outcome}, {test id: failure and error text}) from a JUnit XML file, each id
    as pytest names the test (path::Class::name): the module is the longest prefix of the dotted
    class name that is a file of the sdist."""
    outcomes, messages = {}, {}
    rank = ("failed", "error", "xfailed", "skipped", "passed")
    for case in ET.parse(xml).iter("testcase"):
        parts, name = case.get("classname", "").split("."), case.get("name", "")
        test_id = f"{case.get('classname')}::{name}"
        for cut in range(len(parts), 0, -1):
            path = "/".join(parts[:cut]) + ".py"
            if (src / path).is_file():
                test_id = "::".join([path, *parts[cut:], name])
                break
        found = ["passed"]
        for child in case:
            if child.tag in ("failure", "error"):
                found.append("failed" if child.tag == "failure" else "error")
                messages[test_id] = messages.get(test_id, "") + (child.get("message") or "") + (child.text or "")
            elif child.tag == "skipped":
                found.append("xfailed" if child.get("type") == "pytest.xfail" else "skipped")
        outcome = min(found, key=rank.index)
        if test_id in outcomes:  # the same id twice: keep the worse
            outcome = min(outcomes[test_id], outcome, key=rank.index)
        outcomes[test_id] = outcome
    return outcomes, messages


def check_probe(probe, mode):
    if probe is None:
        return ["the walguard probe did not report (walguard_probe.py not loaded, or pytest died)"]
    problems = []
    for when in ("start", "end"):
        result = probe.get(when, {})
        pragma, downgrade = result.get("pragma_walguard"), str(result.get("downgrade"))
        if result.get("wal") != "wal":
            problems.append(f"probe at {when}: the probe's file did not become WAL: {result}")
        elif mode == "plain" and (pragma is not None or downgrade != "delete"):
            problems.append(f"probe at {when}: walguard is loaded in the plain run: {result}")
        elif mode != "plain" and (pragma is None or not downgrade.startswith("refused")
                                  or result.get("status_after") is None):
            problems.append(f"probe at {when}: walguard is NOT loaded in the {mode} run "
                            f"(PRAGMA walguard: {pragma!r}, downgrade: {downgrade!r})")
    return problems


def refusals(probe):
    """What walguard counted in the pytest process between the two probes."""
    try:
        start, end = probe["start"]["status_after"], probe["end"]["status_before"]
        keys = ("refused_pragmas", "refused_header_writes", "refused_wal_frames", "refused_checkpoints")
        return {k.removeprefix("refused_"): end[k] - start[k] for k in keys if end[k] - start[k]}
    except (KeyError, TypeError):
        return None


def read_expectations(path):
    """The entries of expected-differences.txt: a line `suite test-id plain -> guarded [mode ...]`
    (no mode: every guarded mode), its explanation on the indented lines under it, and indented
    `match: TEXT` lines, text that the guarded run's failure must contain."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            if not entries:
                raise SystemExit(f"{path}:{number}: an explanation before any entry")
            if line.strip().startswith("match:"):
                entries[-1]["match"].append(line.strip()[len("match:"):].strip())
            else:
                entries[-1]["why"].append(line.strip())
            continue
        found = re.fullmatch(r"(\S+)\s+(\S+)\s+(\S+)\s+->\s+(\S+)((?:\s+\S+)*)\s*", line)
        if not found or found.group(1) not in SUITES:
            raise SystemExit(f"{path}:{number}: not `suite test-id plain -> guarded [mode ...]`: {line}")
        modes = found.group(5).split() or list(MODES)
        if set(modes) - set(MODES):
            raise SystemExit(f"{path}:{number}: unknown mode in {modes}")
        entries.append({"suite": found.group(1), "id": found.group(2), "plain": found.group(3),
                        "guarded": found.group(4), "modes": modes, "why": [], "match": [], "line": number})
    for entry in entries:
        if not entry["why"]:
            raise SystemExit(f"{path}:{entry['line']}: {entry['id']} has no explanation")
    return entries


def compare(root, out, name, mode, plain, guarded_result, expectations):
    """Prints the differences between the plain run and a guarded one, each against
    expected-differences.txt; returns the problems."""
    guarded, record = guarded_result
    problems = []
    differences = {t: (plain.get(t, "absent"), guarded.get(t, "absent"))
                   for t in sorted(set(plain) | set(guarded)) if plain.get(t) != guarded.get(t)}
    entries = {e["id"]: e for e in expectations if e["suite"] == name and mode in e["modes"]}
    unexplained = {t: d for t, d in differences.items()
                   if t not in entries or (entries[t]["plain"], entries[t]["guarded"]) != d}
    for test_id, entry in entries.items():
        missing = [m for m in entry["match"] if m not in record["messages"].get(test_id, "")]
        if test_id in differences and test_id not in unexplained and missing:
            problems.append(f"{mode}: {test_id} differs as expected-differences.txt:{entry['line']} says, "
                            f"but its failure does not say {missing[0]!r}: another cause? (see {record['log']})")
            say(f"    OTHER CAUSE {test_id}: the failure does not say {missing[0]!r}")
    flaky = set()
    if unexplained:
        say(f"  {mode}: running the {len(unexplained)} unexplained difference(s) again, plain and {mode}")
        _, flaky = confirm(root, out, name, mode, unexplained)
    record["differences"] = len(differences) - len(flaky)
    say(f"  {mode}: {record['differences']} difference(s) from plain")
    for test_id, (was, now) in differences.items():
        entry = entries.get(test_id)
        if test_id in flaky:
            record.setdefault("flaky", []).append(test_id)
            say(f"    FLAKY     {test_id}: {was} -> {now} in the full runs, not again when run alone: "
                f"not counted (logs: {out / name}/*.rerun.log)")
        elif test_id not in unexplained:
            say(f"    expected  {test_id}: {was} -> {now}: {' '.join(entry['why']).split('. ')[0]}")
        elif entry:
            problems.append(f"{mode}: {test_id}: {was} -> {now}, but expected-differences.txt:"
                            f"{entry['line']} says {entry['plain']} -> {entry['guarded']}")
            say(f"    CHANGED   {test_id}: {was} -> {now} (expected {entry['plain']} -> {entry['guarded']})")
        else:
            problems.append(f"{mode}: unexplained difference {test_id}: {was} -> {now}")
            say(f"    UNEXPLAINED {test_id}: {was} -> {now}")
    for test_id, entry in entries.items():
        if test_id not in differences:
            problems.append(f"{mode}: expected-differences.txt:{entry['line']}: {test_id} "
                            f"({entry['plain']} -> {entry['guarded']}) no longer differs "
                            f"({plain.get(test_id, 'absent')} both ways): remove or correct the entry")
            say(f"    NO LONGER DIFFERS {test_id}: {plain.get(test_id, 'absent')} both ways "
                f"(expected-differences.txt:{entry['line']} says {entry['plain']} -> {entry['guarded']})")
    return problems


def counts(outcomes):
    tally = {}
    for outcome in outcomes.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    return tally


def show_counts(outcomes):
    tally = counts(outcomes)
    parts = [f"{tally.pop(k, 0)} {k}" for k in ("passed", "failed", "skipped")]
    parts += [f"{n} {k}" for k, n in sorted(tally.items())]
    return f"{len(outcomes)} run: " + ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="suites run side by side (default: the number of cores)")
    options = parser.parse_args()
    root = options.root.resolve()
    suites = options.suite or list(SUITES)
    modes = options.mode or list(MODES)
    out = root / "build" / "peers"
    out.mkdir(parents=True, exist_ok=True)
    expectations = read_expectations(HERE / "expected-differences.txt")
    for library in ("libwalguard.so", "libwalguard_preload.so"):
        if not (root / library).exists():
            raise SystemExit(f"{root / library} is missing: run make first")

    def one_suite(name):
        _output.lines = [f"=== {name}: {SUITES[name]['note']}"]
        try:
            return suite_runs(name)
        finally:
            lines, _output.lines = _output.lines, None
            with print_lock:
                print("\n".join(lines), flush=True)

    def suite_runs(name):
        results = {}
        for mode in ("plain", *modes):
            outcomes, record = run_suite(root, out, name, mode)
            results[mode] = (outcomes, record)
            seen = refusals(record["probe"]) if mode != "plain" else None
            extra = f"; walguard refused in the pytest process: {seen or 'nothing'}" if mode != "plain" else ""
            say(f"  {mode:13} {show_counts(outcomes)} ({record['seconds']:.0f} s){extra}")
            for problem in record["problems"]:
                say(f"  {mode:13} PROBLEM: {problem}")
        plain = results["plain"][0]
        problems = [f"{mode}: {p}" for mode, (_, record) in results.items() for p in record["problems"]]
        both_failing = sorted(t for t, o in plain.items() if o in ("failed", "error")
                              and all(results[m][0].get(t) == o for m in modes))
        for test_id in both_failing:
            say(f"  fails without walguard too ({plain[test_id]} in every run): {test_id}")
        for mode in modes:
            if plain and results[mode][0]:
                problems += compare(root, out, name, mode, plain, results[mode], expectations)
        if problems:
            say(f"  {name}: FAILED")
            for problem in problems:
                say(f"    {problem}")
        else:
            say(f"  {name}: ok")
        return results, problems

    # Each suite's runs in order (plain, then each guarded mode), up to --jobs suites side by
    # side: every pytest run is one process on one core, so on 2 cores two suites take the time
    # of one; plain and guarded runs all share the machine the same way.
    print_lock = threading.Lock()
    jobs = max(1, min(options.jobs, len(suites)))
    print(f"peers: {len(suites)} suites, {jobs} at a time", flush=True)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {name: pool.submit(one_suite, name)
                   for name in sorted(suites, key=lambda n: -SECONDS.get(n, 0))}
        done = {name: future.result() for name, future in futures.items()}
    report = [(name, *done[name]) for name in suites]
    failed = sum(1 for _, _, problems in report if problems)
    passed = len(report) - failed

    print(f"\nsummary ({time.monotonic() - started:.0f} s; logs, JUnit XML and probes in {out}):")
    for name, results, problems in report:
        print(f"  {name} ({SUITES[name]['src']})")
        plain = results["plain"][0]
        for mode, (outcomes, record) in results.items():
            line = f"    {mode:13} {show_counts(outcomes)}"
            if "differences" in record:
                line += f"; {record['differences']} differences"
            if record.get("flaky"):
                line += f" ({len(record['flaky'])} flaky, not counted)"
            print(line)
    print(f"peers: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
