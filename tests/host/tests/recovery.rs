//! The legitimate 2 -> 1 header writes, and crashes around refusals. This process stacks
//! walguard over the fault VFS ("faulty") over unix, and runs its tests one at a time,
//! since the faults are process-wide switches.

use std::path::Path;
use std::sync::atomic::Ordering;

use rusqlite::ErrorCode;
use walguard_host_tests::*;

fn rollback_db(path: &Path, rows: i64) {
    let conn = open(path);
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, rows);
}

/// Run `sql` on `db` and keep the files a crash would leave at the moment SQLite deletes the
/// rollback journal, i.e. after the commit wrote the database and before it was final.
fn crash_at_journal_delete(db: &Path, sql: &str, crash_dir: &Path) -> rusqlite::Result<()> {
    *SNAPSHOT_ON_JOURNAL_DELETE.lock().unwrap() = Some(crash_dir.to_path_buf());
    let before = SNAPSHOTS.load(Ordering::SeqCst);
    let result = open(db).execute_batch(sql);
    *SNAPSHOT_ON_JOURNAL_DELETE.lock().unwrap() = None;
    assert_eq!(SNAPSHOTS.load(Ordering::SeqCst), before + 1, "one journal deleted by {sql}");
    result
}

#[test]
fn the_stack_is_walguard_over_the_fault_vfs() {
    let (_serial, dir) = fault_session();
    let conn = open(&dir.path().join("a.db"));
    assert_eq!(vfs_name(&conn, "main").as_deref(), Some("walguard/unix"));
    // walguard answers to the name of the VFS it wraps: the default is walguard, named "faulty",
    // over the VFS "faulty" (found by name, it is walguard's too).
    // SAFETY: plain lookups; walguard keeps its lower VFS in pAppData.
    unsafe {
        let default = rusqlite::ffi::sqlite3_vfs_find(std::ptr::null());
        assert_eq!(default, rusqlite::ffi::sqlite3_vfs_find(c"faulty".as_ptr()));
        assert_eq!(std::ffi::CStr::from_ptr((*default).zName).to_str().unwrap(), "faulty");
        let below = (*default).pAppData.cast::<rusqlite::ffi::sqlite3_vfs>();
        assert_ne!(below, default);
        assert_eq!(std::ffi::CStr::from_ptr((*below).zName).to_str().unwrap(), "faulty");
        let alias = rusqlite::ffi::sqlite3_vfs_find(c"walguard".as_ptr());
        assert_eq!((*alias).pAppData.cast::<rusqlite::ffi::sqlite3_vfs>(), below);
    }
}

#[test]
fn hot_journal_of_a_crashed_switch_to_wal_is_played_back() {
    let (_serial, dir) = fault_session();
    let db = dir.path().join("app.db");
    rollback_db(&db, 100);
    let crash = tempfile::tempdir().unwrap();
    crash_at_journal_delete(&db, "PRAGMA journal_mode=WAL", crash.path()).unwrap();
    assert_eq!(header(&db), WAL, "the switch itself went through");

    // The crashed state: the new header is on disk, the journal holding the old one is hot.
    let crashed = crash.path().join("app.db");
    assert_eq!(header(&crashed), WAL);
    assert!(crash.path().join("app.db-journal").exists());
    let refusals_before = logged("walguard: refused").len();

    // The next open through walguard must roll the switch back, not refuse it.
    let conn = open(&crashed);
    assert_eq!(contents(&conn), intact(100));
    assert_eq!(header(&crashed), ROLLBACK, "the journal's page 1 was written back");
    assert!(!crash.path().join("app.db-journal").exists());
    assert_eq!(logged("walguard: refused").len(), refusals_before, "no refusal during recovery");
    assert_eq!(conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap(), "delete");
    // And the database can then be switched for real.
    assert_eq!(conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    insert_rows(&conn, 101, 110);
    assert_eq!(contents(&conn), intact(110));
}

#[test]
fn failed_switch_to_wal_rolls_back_in_the_same_connection() {
    let (_serial, dir) = fault_session();
    let db = dir.path().join("app.db");
    rollback_db(&db, 50);
    let conn = open(&db);
    arm(Fault { method: Method::Sync, code: rusqlite::ffi::SQLITE_IOERR_FSYNC, persistent: false });
    let err = run_to_end(&conn, "PRAGMA journal_mode=WAL").unwrap_err();
    assert_eq!(disarm(), 1, "the fault fired");
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
    assert_eq!(header(&db), ROLLBACK, "the rollback put version 1 back");
    assert_eq!(contents(&conn), intact(50));
    assert_eq!(conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    assert_eq!(header(&db), WAL);
}

#[test]
fn a_crash_in_the_middle_of_a_refused_downgrade_leaves_a_wal_database() {
    let (_serial, dir) = fault_session();
    let aux = wal_db(dir.path(), "aux.db", 40);
    let main = dir.path().join("main.db");
    rollback_db(&main, 1);
    let crash = tempfile::tempdir().unwrap();
    let sql = format!("ATTACH '{}' AS aux; PRAGMA journal_mode=DELETE;", aux.display());
    // The refused header write makes the transaction roll back; its journal is deleted at
    // the end of the rollback, which is where the snapshot is taken.
    let result = crash_at_journal_delete(&main, &sql, crash.path());
    assert!(result.is_err() || header(&aux) == WAL);
    assert_eq!(header(&aux), WAL);
    let crashed = crash.path().join("aux.db");
    let conn = open(&crashed);
    assert_eq!(contents(&conn), intact(40));
    assert_eq!(header(&crashed), WAL);
    assert_eq!(conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
}

/// Finding 4 of the layer-2 review: a process converting a WAL database deliberately
/// (`walguard=off`) crashed after writing version 1 and before deleting its journal. The
/// guarded connection that plays that hot journal back (correctly, to 2,2) is left with
/// nothing that lets a downgrade through afterwards: through `main`, and attached (where
/// only the header write can refuse).
#[test]
fn recovering_an_interrupted_conversion_grants_no_later_downgrade() {
    let (_serial, dir) = fault_session();
    for attached in [false, true] {
        let db = wal_db(dir.path(), &format!("conv{attached}.db"), 30);
        let crash = tempfile::tempdir().unwrap();
        let off = format!("file:{}?walguard=off", db.display());
        crash_at_journal_delete(Path::new(&off), "PRAGMA journal_mode=DELETE", crash.path()).unwrap();
        let crashed = crash.path().join(db.file_name().unwrap());
        assert_eq!(header(&crashed), ROLLBACK, "the conversion wrote version 1 before the crash");
        assert!(crash.path().join(format!("conv{attached}.db-journal")).exists());

        let conn = if attached {
            let conn = open(Path::new(":memory:"));
            conn.execute("ATTACH ?1 AS aux", [crashed.to_str().unwrap()]).unwrap();
            conn
        } else {
            open(&crashed)
        };
        let schema = if attached { "aux" } else { "main" };
        let count =
            |conn: &rusqlite::Connection| conn.query_row(&format!("SELECT count(*) FROM {schema}.t"), [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count(&conn), 30, "the hot journal was played back");
        assert_eq!(header(&crashed), WAL, "the conversion was rolled back");
        let err = run_to_end(&conn, "PRAGMA journal_mode=DELETE").unwrap_err();
        if attached {
            assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
        } else {
            assert!(err.to_string().starts_with("walguard: refused journal_mode=DELETE"), "{err}");
        }
        assert_eq!(header(&crashed), WAL);
        conn.execute_batch(&format!("INSERT INTO {schema}.t(pad) VALUES('after')")).unwrap();
        assert_eq!(count(&conn), 31);
    }
}

/// A switch to WAL made from journal_mode=MEMORY has no journal on disk (SQLite turns the
/// journal OFF for that transaction), so when it fails nothing writes page 1 back: walguard
/// has nothing to allow or refuse, and ends exactly as the same failure without walguard.
#[test]
fn a_failed_switch_to_wal_from_memory_mode_ends_as_without_walguard() {
    let (_serial, dir) = fault_session();
    let mut outcomes = Vec::new();
    for vfs in ["walguard", PLAIN] {
        let db = dir.path().join(format!("memory-{vfs}.db"));
        rollback_db(&db, 20);
        let conn = open_with_vfs(&db, vfs);
        assert_eq!(conn.query_row("PRAGMA journal_mode=MEMORY", [], |r| r.get::<_, String>(0)).unwrap(), "memory");
        arm(Fault { method: Method::Sync, code: rusqlite::ffi::SQLITE_IOERR_FSYNC, persistent: false });
        let result = run_to_end(&conn, "PRAGMA journal_mode=WAL").map_err(|e| e.sqlite_error_code());
        assert_eq!(disarm(), 1, "the fault fired");
        let after = (result, header(&db), contents(&conn), conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap());
        assert_eq!(after.2, intact(20), "{vfs}");
        outcomes.push(after);
    }
    assert_eq!(outcomes[0], outcomes[1], "walguard against the same failure below it");
}

/// A backup from a WAL database into a rollback database copies the source's page 1, WAL
/// header included. When that commit fails after page 1 reached the file and the destination's
/// journal is in memory (`journal_mode=MEMORY`, nothing on disk), the rollback puts the
/// original page 1 back over the WAL header: walguard allows exactly that page, because this
/// handle replaced it in the same transaction, and ends as the same failure without walguard.
#[test]
fn a_failed_backup_into_a_memory_journal_database_rolls_back() {
    let (_serial, dir) = fault_session();
    let source = wal_db(dir.path(), "source.db", 300);
    let mut outcomes = Vec::new();
    for vfs in ["walguard", PLAIN] {
        let db = dir.path().join(format!("dest-{vfs}.db"));
        rollback_db(&db, 50);
        let mut dest = open_with_vfs(&db, vfs);
        assert_eq!(dest.query_row("PRAGMA journal_mode=MEMORY", [], |r| r.get::<_, String>(0)).unwrap(), "memory");
        let src = open(&source);
        arm(Fault { method: Method::Sync, code: rusqlite::ffi::SQLITE_IOERR_FSYNC, persistent: false });
        let result =
            rusqlite::backup::Backup::new(&src, &mut dest).and_then(|b| b.run_to_completion(1000, std::time::Duration::ZERO, None));
        assert_eq!(disarm(), 1, "{vfs}: the fault fired");
        let code = result.map_err(|e| e.sqlite_error_code());
        assert!(code.is_err(), "{vfs}: the backup failed");
        let after = (code, header(&db), contents(&dest));
        assert_eq!(after.1, ROLLBACK, "{vfs}: the original page 1 is back");
        assert_eq!(after.2, intact(50), "{vfs}");
        outcomes.push(after);
    }
    assert_eq!(outcomes[0], outcomes[1], "walguard against the same failure below it");
    assert!(logged("walguard: refused").iter().all(|l| !l.contains("dest-walguard")), "no refusal on the destination");
}
