//! Layer 2 (the header guard) against the sequences that defeated its earlier design, each in
//! several variants: the sibling that moves the file to WAL is a guarded connection, a
//! connection of this process that never loaded walguard (the unix VFS by name), or another
//! process without walguard (Debian's sqlite3 shell); the downgrade comes through `main` or an
//! attached schema. Every test checks the header bytes on disk, the error, and the rows.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use rusqlite::{Connection, ErrorCode};
use walguard_host_tests::*;

fn rollback_db(dir: &Path, name: &str, rows: i64) -> PathBuf {
    let path = dir.join(name);
    let conn = open_with_vfs(&path, PLAIN);
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, rows);
    path
}

fn journal_mode(conn: &Connection, schema: &str) -> String {
    conn.query_row(&format!("PRAGMA {schema}.journal_mode"), [], |r| r.get(0)).unwrap()
}

fn status(conn: &Connection) -> String {
    conn.query_row("SELECT walguard_status()", [], |r| r.get(0)).unwrap()
}

/// The value of one counter of `walguard_status()`.
fn counter(conn: &Connection, name: &str) -> u64 {
    let status = status(conn);
    let key = format!("\"{name}\":");
    let rest = &status[status.find(&key).unwrap_or_else(|| panic!("{name} in {status}")) + key.len()..];
    rest[..rest.find([',', '}']).unwrap()].parse().unwrap()
}

/// An unprefixed `PRAGMA journal_mode=DELETE` (it changes every attached database, which
/// never see the pragma's file-control) must fail at the header write.
fn unprefixed_delete_is_refused(conn: &Connection) {
    let err = run_to_end(conn, "PRAGMA journal_mode=DELETE").unwrap_err();
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
}

/// A sibling that moves a file to WAL and writes page 1 into the WAL, then stays open so that
/// page 1 keeps being served from the WAL.
enum Sibling {
    /// A connection of this process that never loaded walguard.
    Unguarded(Connection),
    /// A guarded connection of this process.
    Guarded(Connection),
    /// Debian's sqlite3 shell, without walguard, in another process.
    Process { child: Child, stdin: ChildStdin, stdout: BufReader<ChildStdout> },
}

impl Sibling {
    const SWITCH: &str = "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE u(b); INSERT INTO t(pad) VALUES('sibling');";

    /// Move `path` to WAL and write page 1 into the WAL.
    fn start(kind: usize, path: &Path) -> Sibling {
        Sibling::spawn(kind, path).run(Sibling::SWITCH)
    }

    fn spawn(kind: usize, path: &Path) -> Sibling {
        match kind {
            0 => Sibling::Unguarded(open_with_vfs(path, PLAIN)),
            1 => Sibling::Guarded(open(path)),
            _ => {
                let mut child = Command::new("sqlite3")
                    .arg(path)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("Debian's sqlite3 shell (make deps-test installs it)");
                let stdin = child.stdin.take().unwrap();
                let stdout = BufReader::new(child.stdout.take().unwrap());
                Sibling::Process { child, stdin, stdout }
            }
        }
    }

    /// Run `sql` and wait until it is done.
    fn run(mut self, sql: &str) -> Sibling {
        match &mut self {
            Sibling::Unguarded(conn) | Sibling::Guarded(conn) => conn.execute_batch(sql).unwrap(),
            Sibling::Process { stdin, stdout, .. } => {
                writeln!(stdin, "{sql}\nSELECT 'done';").unwrap();
                let mut line = String::new();
                while line.trim() != "done" {
                    line.clear();
                    assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "the shell exited");
                }
            }
        }
        self
    }

    fn close(self) {
        if let Sibling::Process { mut child, stdin, .. } = self {
            drop(stdin);
            assert!(child.wait().unwrap().success());
        }
    }
}

const SIBLINGS: [&str; 3] = ["unguarded connection", "guarded connection", "unguarded process"];

/// Finding 1, as the issue gave it: the same file attached twice to one guarded connection;
/// `a1` reads it as a rollback file, `a2` moves it to WAL and writes page 1 into the WAL,
/// then `a1`, serving page 1 from the WAL, takes the unprefixed downgrade.
#[test]
fn attached_twice_page1_served_from_the_wal() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let x = rollback_db(dir.path(), "x.db", 10);
    let conn = open(Path::new(":memory:"));
    conn.execute("ATTACH ?1 AS a1", [x.to_str().unwrap()]).unwrap();
    conn.execute("ATTACH ?1 AS a2", [x.to_str().unwrap()]).unwrap();
    assert_eq!(conn.query_row("SELECT count(*) FROM a1.t", [], |r| r.get::<_, i64>(0)).unwrap(), 10);
    assert_eq!(journal_mode(&conn, "a2"), "delete");
    conn.execute_batch("PRAGMA a2.journal_mode=WAL; CREATE TABLE a2.u(b);").unwrap();
    assert_eq!(conn.query_row("SELECT count(*) FROM a1.t", [], |r| r.get::<_, i64>(0)).unwrap(), 10);
    conn.execute_batch("DETACH a2").unwrap();
    let refused = counter(&conn, "refused_header_writes");
    unprefixed_delete_is_refused(&conn);
    assert_eq!(header(&x), WAL);
    // Counters are the process's (other tests run in parallel): at least this refusal, and
    // exactly one log line naming this file.
    assert!(counter(&conn, "refused_header_writes") > refused);
    assert_eq!(logged(&format!("walguard: refused a header write leaving WAL, policy enforce: '{}'", x.display())).len(), 1);
    // The header still says WAL, so the next transaction opens the WAL again.
    conn.execute_batch("INSERT INTO a1.t(pad) VALUES('after')").unwrap();
    assert_eq!(journal_mode(&conn, "a1"), "wal", "the connection goes on in WAL");
    drop(conn);
    let check = open_with_vfs(&x, PLAIN);
    assert_eq!(check.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 11);
    assert_eq!(journal_mode(&check, "main"), "wal");
}

/// Finding 1 with every kind of sibling, the file attached (the pragma never reaches it).
#[test]
fn sibling_switches_an_attached_file_read_as_rollback() {
    load_walguard();
    for (kind, name) in SIBLINGS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let x = rollback_db(dir.path(), "x.db", 10);
        let conn = open(&dir.path().join("main.db"));
        conn.execute("ATTACH ?1 AS aux", [x.to_str().unwrap()]).unwrap();
        assert_eq!(conn.query_row("SELECT count(*) FROM aux.t", [], |r| r.get::<_, i64>(0)).unwrap(), 10, "{name}");
        let sibling = Sibling::start(kind, &x);
        // aux follows into WAL; page 1 is in the WAL, not read through the database file.
        assert_eq!(conn.query_row("SELECT count(*) FROM aux.t", [], |r| r.get::<_, i64>(0)).unwrap(), 11, "{name}");
        sibling.close();
        unprefixed_delete_is_refused(&conn);
        assert_eq!(header(&x), WAL, "{name}");
        assert_eq!(conn.query_row("SELECT count(*) FROM aux.t", [], |r| r.get::<_, i64>(0)).unwrap(), 11, "{name}");
        assert_eq!(journal_mode(&conn, "aux"), "wal", "{name}");
    }
}

/// Finding 1 on `main`: the downgrade was prepared (layer 1 looked then) while the file was
/// still a rollback file, and is stepped after a sibling moved it to WAL. The sibling changes
/// no schema, so the statement is not prepared again.
#[test]
fn downgrade_prepared_before_a_sibling_switched_main() {
    load_walguard();
    for (kind, name) in SIBLINGS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let x = rollback_db(dir.path(), "x.db", 10);
        let conn = open(&x);
        assert_eq!(journal_mode(&conn, "main"), "delete");
        let mut downgrade = conn.prepare("PRAGMA journal_mode=DELETE").unwrap();
        // The sibling's row grows the file, so page 1 (its size field) is in the WAL, and stays
        // there while this connection reads: the database file's page 1 is never read here.
        let sibling = Sibling::spawn(kind, &x)
            .run("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; INSERT INTO t(pad) VALUES(hex(randomblob(5000)));");
        assert_eq!(header(&x), WAL, "{name}");
        // A read moves this connection into WAL; then the old statement steps.
        assert_eq!(conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 11, "{name}");
        sibling.close();
        let result: rusqlite::Result<Vec<String>> = downgrade.query_map([], |r| r.get(0)).unwrap().collect();
        let err = result.unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{name}: {err}");
        drop(downgrade);
        assert_eq!(header(&x), WAL, "{name}");
        conn.execute_batch("INSERT INTO t(pad) VALUES('after')").unwrap();
        assert_eq!(journal_mode(&conn, "main"), "wal", "{name}");
        assert_eq!(conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 12, "{name}");
    }
}

/// Finding 2: this connection checkpoints a page 1 that a sibling wrote into the WAL while
/// this connection still took the file for a rollback file. The checkpoint's write of
/// version 2 is not a switch to WAL, and nothing lets a later downgrade through.
#[test]
fn a_checkpoint_of_page1_grants_nothing() {
    load_walguard();
    for (kind, name) in SIBLINGS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let x = rollback_db(dir.path(), "x.db", 10);
        let conn = open(Path::new(":memory:"));
        conn.execute("ATTACH ?1 AS aux", [x.to_str().unwrap()]).unwrap();
        assert_eq!(conn.query_row("SELECT count(*) FROM aux.t", [], |r| r.get::<_, i64>(0)).unwrap(), 10);
        let sibling = Sibling::start(kind, &x);
        assert_eq!(conn.query_row("SELECT count(*) FROM aux.t", [], |r| r.get::<_, i64>(0)).unwrap(), 11, "{name}: aux follows into WAL");
        let (busy, log, done): (i64, i64, i64) =
            conn.query_row("PRAGMA aux.wal_checkpoint", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        assert_eq!((busy, log == done), (0, true), "{name}: the checkpoint copied page 1");
        sibling.close();
        unprefixed_delete_is_refused(&conn);
        assert_eq!(header(&x), WAL, "{name}");
        assert_eq!(conn.query_row("SELECT count(*) FROM aux.t", [], |r| r.get::<_, i64>(0)).unwrap(), 11, "{name}");
    }
}

/// Finding 3: walguard adopts an attached WAL file in the middle of a write transaction; the
/// transaction rolls back, and nothing is left that grants a downgrade. Both `main` and an
/// attached schema.
#[test]
fn adoption_inside_a_write_transaction_then_rollback() {
    load_walguard();
    for attached in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let x = wal_db(dir.path(), "x.db", 10);
        let (conn, schema) = if attached {
            let conn = open_with_vfs(&rollback_db(dir.path(), "main.db", 1), PLAIN);
            conn.execute("ATTACH ?1 AS aux", [x.to_str().unwrap()]).unwrap();
            (conn, "aux")
        } else {
            (open_with_vfs(&x, PLAIN), "main")
        };
        conn.execute_batch(&format!("BEGIN; INSERT INTO {schema}.t(pad) VALUES('in the transaction');")).unwrap();
        // SAFETY: our own extension.
        unsafe {
            conn.load_extension_enable().unwrap();
            conn.load_extension(lib_path(), None::<&str>).unwrap();
        }
        conn.execute_batch("ROLLBACK").unwrap();
        let err = run_to_end(&conn, "PRAGMA journal_mode=DELETE").unwrap_err();
        if attached {
            assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
        } else {
            assert!(err.to_string().starts_with("walguard: refused journal_mode=DELETE"), "{err}");
        }
        assert_eq!(header(&x), WAL, "{schema}");
        assert_eq!(conn.query_row(&format!("SELECT count(*) FROM {schema}.t"), [], |r| r.get::<_, i64>(0)).unwrap(), 10);
        assert_eq!(journal_mode(&conn, schema), "wal");
    }
}

/// Finding 6: a file opened before the load with a `walguard=` value that is not a policy is
/// guarded under the default policy, and so is a new open of it (issue 23: a typo never
/// unguards a file, nor fails its open).
#[test]
fn an_invalid_policy_on_an_adopted_file_gets_the_default() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let x = wal_db(dir.path(), "x.db", 10);
    let uri = format!("file:{}?walguard=bogus", x.display());
    let conn = Connection::open_with_flags_and_vfs(&uri, rusqlite::OpenFlags::default(), PLAIN).unwrap();
    load_into(&conn);
    assert_eq!(conn.query_row("PRAGMA walguard", [], |r| r.get::<_, String>(0)).unwrap(), "enforce");
    let lines = logged("invalid value 'bogus' for URI parameter walguard");
    assert!(lines.iter().any(|l| l.ends_with(&format!("guarding '{}' under the default policy, enforce", x.display()))), "{lines:?}");
    let err = conn.execute_batch("PRAGMA journal_mode=DELETE").unwrap_err();
    assert!(err.to_string().starts_with("walguard: refused journal_mode=DELETE"), "{err}");
    assert_eq!(header(&x), WAL);
    // A new open with the same value: guarded under the default policy too.
    let again = Connection::open_with_flags(&uri, rusqlite::OpenFlags::default()).unwrap();
    assert_eq!(again.query_row("PRAGMA walguard", [], |r| r.get::<_, String>(0)).unwrap(), "enforce");
    assert!(again.execute_batch("PRAGMA journal_mode=DELETE").is_err());
    assert_eq!(header(&x), WAL);
}

/// Page 1 as it is now, with bytes 18 and 19 set to `version`.
fn page1_with_version(conn: &Connection, version: u8) -> Vec<u8> {
    let mut page: Vec<u8> = conn.query_row("SELECT data FROM sqlite_dbpage WHERE pgno=1", [], |r| r.get(0)).expect(
        "the host tests' SQLite is built with SQLITE_ENABLE_DBPAGE_VTAB (the Makefile sets LIBSQLITE3_FLAGS; run them through make)",
    );
    page[18] = version;
    page[19] = version;
    page
}

/// Findings 5 and 7, the WAL side: a guarded connection cannot write a page-1 frame that
/// leaves WAL (read version 1, or 0, which SQLite also opens as a rollback database).
#[test]
fn a_page1_frame_leaving_wal_is_refused_at_the_wal() {
    load_walguard();
    for version in [1u8, 0] {
        let dir = tempfile::tempdir().unwrap();
        let x = wal_db(dir.path(), "x.db", 10);
        let conn = open(&x);
        let refused = counter(&conn, "refused_wal_frames");
        let page = page1_with_version(&conn, version);
        let err = conn.execute("UPDATE sqlite_dbpage SET data=?1 WHERE pgno=1", [&page]).unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
        assert_eq!(counter(&conn, "refused_wal_frames"), refused + 1);
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        assert_eq!(header(&x), WAL, "version {version}");
        assert_eq!(contents(&conn), intact(10));
        insert_rows(&conn, 11, 20);
        drop(conn);
        let check = open_with_vfs(&x, PLAIN);
        assert_eq!(journal_mode(&check, "main"), "wal");
        assert_eq!(contents(&check), intact(20));
    }
}

/// Finding 7: a WAL poisoned by a writer without walguard (a page 1 with read version 0 or 1
/// in the WAL) is never checkpointed into the database: each refusal is logged and counted,
/// `PRAGMA walguard` says so, and VACUUM through walguard is the way out.
#[test]
fn a_poisoned_wal_is_refused_reported_and_vacuum_mends_it() {
    load_walguard();
    for version in [1u8, 0] {
        let dir = tempfile::tempdir().unwrap();
        let x = wal_db(dir.path(), "x.db", 10);
        let unguarded = open_with_vfs(&x, PLAIN);
        unguarded.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
        let page = page1_with_version(&unguarded, version);
        unguarded.execute("UPDATE sqlite_dbpage SET data=?1 WHERE pgno=1", [&page]).unwrap();

        let conn = open(&x);
        let refused = counter(&conn, "refused_checkpoints");
        let lines = logged("walguard: refused a checkpoint").len();
        for attempt in 1..=3u64 {
            let err = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap_err();
            assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
            assert_eq!(counter(&conn, "refused_checkpoints"), refused + attempt);
            assert_eq!(logged("walguard: refused a checkpoint").len(), lines + attempt as usize, "a line every time");
        }
        assert_eq!(header(&x), WAL);
        let answer: String = conn.query_row("PRAGMA walguard", [], |r| r.get(0)).unwrap();
        assert!(answer.starts_with("enforce; WAL poisoned"), "{answer}");
        assert_eq!(contents(&conn), intact(10), "every row is readable meanwhile");

        // The way out: VACUUM rewrites page 1 (as WAL) into the WAL; the checkpoint then
        // copies that one.
        drop(unguarded);
        conn.execute_batch("VACUUM").unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        assert_eq!(conn.query_row("PRAGMA walguard", [], |r| r.get::<_, String>(0)).unwrap(), "enforce");
        assert_eq!(header(&x), WAL);
        insert_rows(&conn, 11, 20);
        assert_eq!(contents(&conn), intact(20));
        drop(conn);
        let check = open_with_vfs(&x, PLAIN);
        assert_eq!(journal_mode(&check, "main"), "wal");
        assert_eq!(contents(&check), intact(20));
    }
}

/// `sqlite3_file_control(db, "main", SQLITE_FCNTL_PRAGMA, NULL)` goes to the lower VFS, which
/// answers SQLITE_NOTFOUND, instead of dereferencing the null argument.
#[test]
fn pragma_file_control_with_a_null_argument() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let conn = open(&wal_db(dir.path(), "x.db", 1));
    // SAFETY: a live connection; the argument is deliberately null.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), rusqlite::ffi::SQLITE_FCNTL_PRAGMA, std::ptr::null_mut())
    };
    assert_eq!(rc, rusqlite::ffi::SQLITE_NOTFOUND);
}
