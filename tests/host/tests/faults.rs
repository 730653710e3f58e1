//! Faults injected *below* walguard (stack: walguard -> faulty -> unix). For every method
//! that can fail (xShmMap, xShmLock, xFileControl, xRead of page 1, xWrite, xSync), every
//! code (an I/O error, SQLITE_BUSY, SQLITE_FULL), transient and persistent, and every step
//! of an ordinary WAL workload:
//! - the application sees exactly the error code it sees without walguard (the same fault
//!   at the same step, through the unguarded copy of "faulty", `PLAIN`), and the same rows afterwards;
//! - after the fault clears, the database is WAL, intact and usable;
//! - a downgrade attempted under the fault never goes through.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ffi};
use walguard_host_tests::*;

const METHODS: [Method; 6] = [Method::ShmMap, Method::ShmLock, Method::FileControl, Method::ReadPage1, Method::Write, Method::Sync];

/// The steps of the workload; a fault is armed around one of them.
const STEPS: [&str; 4] = [
    "INSERT INTO t VALUES(1001, 'one')",
    "SELECT count(*) FROM t",
    "BEGIN; INSERT INTO t VALUES(1002, 'two'); INSERT INTO t VALUES(1003, 'three'); COMMIT",
    "PRAGMA wal_checkpoint(TRUNCATE)",
];

fn io_code(method: Method) -> i32 {
    match method {
        Method::ShmMap => ffi::SQLITE_IOERR_SHMMAP,
        Method::ShmLock => ffi::SQLITE_IOERR_SHMLOCK,
        Method::FileControl => ffi::SQLITE_IOERR,
        Method::ReadPage1 => ffi::SQLITE_IOERR_READ,
        Method::Write => ffi::SQLITE_IOERR_WRITE,
        Method::Sync => ffi::SQLITE_IOERR_FSYNC,
    }
}

/// Every fault, or (for `make test`) all but the persistent SQLITE_BUSY ones: against those
/// SQLite retries with growing sleeps, up to about ten seconds per statement, before giving
/// up, so they run under `make stress` (WALGUARD_FULL_FAULTS=1).
fn faults() -> Vec<Fault> {
    let full = std::env::var_os("WALGUARD_FULL_FAULTS").is_some();
    let mut all = Vec::new();
    for method in METHODS {
        for code in [io_code(method), ffi::SQLITE_BUSY, ffi::SQLITE_FULL] {
            for persistent in [false, true] {
                if persistent && code == ffi::SQLITE_BUSY && !full {
                    continue;
                }
                all.push(Fault { method, code, persistent });
            }
        }
    }
    all
}

/// Run SQL to its end; the extended error code, if any.
fn step(conn: &Connection, sql: &str) -> Result<(), i32> {
    conn.execute_batch(sql).map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) => f.extended_code,
        other => panic!("{sql}: {other}"),
    })
}

/// What a run looked like from the application.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    step_result: Result<(), i32>,
    fired: bool,
    rows_after: i64,
}

fn base_db(dir: &Path) -> PathBuf {
    let path = dir.join("base.db");
    let conn = open_with_vfs(&path, PLAIN);
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).unwrap();
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, 50);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    path
}

/// Run the workload on a copy of `base` through `vfs`, with `fault` armed around step `at`.
fn run(base: &Path, vfs: &str, fault: Fault, at: usize) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    std::fs::copy(base, &path).unwrap();
    let conn = open_with_vfs(&path, vfs);
    for sql in &STEPS[..at] {
        step(&conn, sql).unwrap();
    }
    arm(fault);
    let step_result = step(&conn, STEPS[at]);
    let fired = disarm() > 0;
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK").unwrap();
    }
    // Usable again once the fault has cleared.
    step(&conn, "INSERT INTO t VALUES(2000, 'after')").unwrap_or_else(|e| panic!("{fault:?} at {at} via {vfs}: {e}"));
    drop(conn);
    let conn = open_with_vfs(&path, vfs);
    let (rows, _, check) = contents(&conn);
    assert_eq!(check, "ok", "{fault:?} at step {at} via {vfs}");
    assert_eq!(header(&path), WAL, "{fault:?} at step {at} via {vfs}");
    Outcome { step_result, fired, rows_after: rows }
}

#[test]
fn errors_below_walguard_reach_the_application_unchanged() {
    let (_serial, dir) = fault_session();
    let base = base_db(dir.path());
    let mut runs = 0;
    let mut per_method = std::collections::BTreeMap::new();
    for fault in faults() {
        for (at, step) in STEPS.iter().enumerate() {
            let started = std::time::Instant::now();
            let bare = run(&base, PLAIN, fault, at);
            let guarded = run(&base, "walguard", fault, at);
            assert_eq!(guarded, bare, "{fault:?} around {step:?}");
            runs += 1;
            let entry = per_method.entry(format!("{:?}", fault.method)).or_insert((0, 0, 0, 0.0));
            entry.0 += 1;
            entry.1 += usize::from(guarded.fired);
            entry.2 += usize::from(guarded.step_result.is_err());
            entry.3 += started.elapsed().as_secs_f64();
        }
    }
    eprintln!("fault runs: {runs}, each with and without walguard, same outcome in all");
    for (method, (n, fired, errors, secs)) in &per_method {
        eprintln!("  {method}: {n} runs, fault fired in {fired}, error reached the application in {errors} ({secs:.1}s)");
        // Every method is exercised: its fault fires, and reaches the application.
        assert!(*fired > 0 && *errors > 0, "{method}: fired {fired}, errors {errors}");
    }
}

#[test]
fn a_downgrade_under_faults_never_goes_through() {
    let (_serial, dir) = fault_session();
    let base = base_db(dir.path());
    let mut refused_or_failed = 0;
    for fault in faults() {
        for sql in ["PRAGMA journal_mode=DELETE", "PRAGMA aux.journal_mode=TRUNCATE"] {
            let work = tempfile::tempdir().unwrap();
            let aux = work.path().join("aux.db");
            std::fs::copy(&base, &aux).unwrap();
            let conn = open(&work.path().join("main.db"));
            conn.execute("ATTACH ?1 AS aux", [aux.to_str().unwrap()]).unwrap();
            conn.execute_batch("SELECT count(*) FROM aux.t").unwrap();
            arm(fault);
            let result = run_to_end(&conn, sql);
            disarm();
            refused_or_failed += usize::from(result.is_err());
            assert_eq!(header(&aux), WAL, "{fault:?}: {sql} -> {result:?}");
            drop(conn);
            let conn = open(&aux);
            assert_eq!(contents(&conn), intact(50), "{fault:?}: {sql}");
            assert_eq!(conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
        }
    }
    assert_eq!(refused_or_failed, 2 * faults().len(), "every attempt was refused or failed");
}

/// A header write walguard cannot decide, because its own read of the header fails below it,
/// fails with that error, as the same read would fail SQLite; and walguard says whose error it
/// is in a log line (an I/O error with no line of walguard's hides where it came from).
#[test]
fn a_write_walguard_cannot_check_fails_with_the_read_error_and_says_so() {
    let (_serial, dir) = fault_session();
    let path = dir.path().join("rollback.db");
    let conn = open(&path);
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES(1);").unwrap();
    conn.execute_batch("BEGIN; INSERT INTO t VALUES(2);").unwrap(); // page 1 read, cached
    arm(Fault { method: Method::ReadPage1, code: ffi::SQLITE_IOERR_READ, persistent: false });
    let result = conn.execute_batch("COMMIT"); // the commit's page 1: walguard reads the header
    assert_eq!(disarm(), 1, "the fault fired on walguard's read");
    assert_eq!(result.unwrap_err().sqlite_error_code(), Some(rusqlite::ErrorCode::SystemIoFailure));
    let lines = logged(&format!("walguard: a header write failed: reading what decides it failed (error {}): '", ffi::SQLITE_IOERR_READ));
    assert!(lines.iter().any(|l| l.ends_with("rollback.db'")), "{lines:?}");
    conn.execute_batch("ROLLBACK").ok();
    assert_eq!(conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
}
