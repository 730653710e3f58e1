//! Everything SQLite does to a database file, through walguard (stack: walguard -> unix):
//! what must keep working, and the downgrades that must be refused.

use rusqlite::{Connection, ErrorCode, MAIN_DB, config::DbConfig};
use tempfile::TempDir;
use walguard_host_tests::*;

fn setup() -> TempDir {
    load_walguard();
    tempfile::tempdir().unwrap()
}

fn journal_mode(conn: &Connection, schema: &str) -> String {
    conn.query_row(&format!("PRAGMA {schema}.journal_mode"), [], |r| r.get(0)).unwrap()
}

#[test]
fn walguard_is_the_default_vfs_and_loading_twice_is_a_no_op() {
    let dir = setup();
    let conn = open(&dir.path().join("a.db"));
    assert_eq!(vfs_name(&conn, "main").as_deref(), Some("walguard/unix"));
    // SAFETY: our own extension.
    unsafe {
        conn.load_extension_enable().unwrap();
        conn.load_extension(lib_path(), None::<&str>).unwrap();
    }
    let again = open(&dir.path().join("b.db"));
    assert_eq!(vfs_name(&again, "main").as_deref(), Some("walguard/unix"), "still one walguard layer");
    // A connection that asks for the unix VFS by name is not guarded.
    let bypass = open_with_vfs(&dir.path().join("c.db"), PLAIN);
    assert_eq!(vfs_name(&bypass, "main").as_deref(), Some(PLAIN));
}

#[test]
fn pragma_downgrade_is_refused_with_a_message_and_nothing_is_lost() {
    let dir = setup();
    let path = wal_db(dir.path(), "app.db", 50);
    let conn = open(&path);
    let err = conn.execute_batch("PRAGMA journal_mode=DELETE").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("walguard: refused journal_mode=DELETE on '"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("walguard=off"), "{text}");
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::Unknown), "SQLITE_ERROR");
    assert_eq!(header(&path), WAL);
    insert_rows(&conn, 51, 60);
    assert_eq!(contents(&conn), intact(60));
    assert_eq!(journal_mode(&conn, "main"), "wal");
    assert!(!logged(&format!("walguard: refused journal_mode=DELETE, policy enforce: '{}'", path.display())).is_empty());
}

#[test]
fn unprefixed_pragma_with_attached_wal_database_is_refused_at_the_header() {
    let dir = setup();
    let aux = wal_db(dir.path(), "aux.db", 20);
    let conn = open(&dir.path().join("main.db"));
    conn.execute_batch("CREATE TABLE m(x)").unwrap();
    conn.execute("ATTACH ?1 AS aux", [aux.to_str().unwrap()]).unwrap();
    // The header is written when the statement's transaction commits, after its one row:
    // the error reaches a client that steps the statement to the end.
    let err = run_to_end(&conn, "PRAGMA journal_mode=DELETE").unwrap_err();
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
    assert_eq!(header(&aux), WAL);
    assert_eq!(header(&dir.path().join("main.db")), ROLLBACK);
    conn.execute_batch("INSERT INTO aux.t VALUES(21, 'x')").unwrap();
    assert_eq!(journal_mode(&conn, "aux"), "wal", "back in WAL at the next transaction");
    let (n, sum): (i64, i64) = conn.query_row("SELECT count(*), sum(x) FROM aux.t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((n, sum), (21, 231));
    assert!(!logged(&format!("walguard: refused a header write leaving WAL, policy enforce: '{}'", aux.display())).is_empty());
}

#[test]
fn reset_database_and_vacuum_is_refused_and_the_file_stays_intact() {
    let dir = setup();
    let path = wal_db(dir.path(), "app.db", 100);
    let conn = open(&path);
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_RESET_DATABASE, true).unwrap();
    let result = conn.execute_batch("VACUUM");
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_RESET_DATABASE, false).unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
    assert_eq!(header(&path), WAL);
    assert_eq!(contents(&conn), intact(100));
    drop(conn);
    let reopened = open(&path);
    assert_eq!(contents(&reopened), intact(100));
    assert_eq!(journal_mode(&reopened, "main"), "wal");
}

#[test]
fn backup_into_wal_and_rollback_destinations() {
    let dir = setup();
    let wal_src = wal_db(dir.path(), "wal_src.db", 300);
    let rb_src = dir.path().join("rb_src.db");
    {
        let c = open(&rb_src);
        c.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
        insert_rows(&c, 1, 200);
    }
    // Rollback source into a WAL destination: the destination stays WAL.
    let wal_dst = wal_db(dir.path(), "wal_dst.db", 5);
    let mut dst = open(&wal_dst);
    dst.restore(MAIN_DB, &rb_src, None::<fn(rusqlite::backup::Progress)>).unwrap();
    assert_eq!(header(&wal_dst), WAL);
    assert_eq!(contents(&dst), intact(200));
    assert_eq!(journal_mode(&dst, "main"), "wal");
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert_eq!(header(&wal_dst), WAL);
    // WAL source into a rollback destination: the destination takes the source's header.
    let rb_dst = dir.path().join("rb_dst.db");
    {
        let mut c = open(&rb_dst);
        c.execute_batch("CREATE TABLE other(y)").unwrap();
        c.restore(MAIN_DB, &wal_src, None::<fn(rusqlite::backup::Progress)>).unwrap();
        assert_eq!(contents(&c), intact(300));
    }
    let c = open(&rb_dst);
    assert_eq!(contents(&c), intact(300));
    // Backup API from a WAL database to a new file.
    let copy = dir.path().join("copy.db");
    open(&wal_src).backup(MAIN_DB, &copy, None::<fn(rusqlite::backup::Progress)>).unwrap();
    assert_eq!(contents(&open(&copy)), intact(300));
}

#[test]
fn in_place_vacuum_keeps_wal_and_vacuum_into_makes_a_new_rollback_file() {
    let dir = setup();
    let path = wal_db(dir.path(), "app.db", 500);
    let conn = open(&path);
    conn.execute_batch("DELETE FROM t WHERE x % 2 = 0; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    assert_eq!(header(&path), WAL);
    let (n, _, check) = contents(&conn);
    assert_eq!((n, check.as_str()), (250, "ok"));
    let into = dir.path().join("into.db");
    conn.execute("VACUUM INTO ?1", [into.to_str().unwrap()]).unwrap();
    assert_eq!(header(&into), ROLLBACK, "a new file, not a downgrade");
    assert_eq!(header(&path), WAL);
    assert_eq!(contents(&open(&into)).0, 250);
}

#[test]
fn checkpoints_in_all_four_modes() {
    let dir = setup();
    let path = wal_db(dir.path(), "app.db", 10);
    let conn = open(&path);
    let mut rows = 10;
    for mode in ["PASSIVE", "FULL", "RESTART", "TRUNCATE"] {
        insert_rows(&conn, rows + 1, rows + 200);
        rows += 200;
        let (busy, _log, _done): (i64, i64, i64) =
            conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        assert_eq!(busy, 0, "{mode}");
        assert_eq!(header(&path), WAL, "{mode}");
    }
    assert_eq!(std::fs::metadata(dir.path().join("app.db-wal")).unwrap().len(), 0, "TRUNCATE emptied the WAL");
    assert_eq!(contents(&conn), intact(rows));
}

#[test]
fn exclusive_locking_mode_with_wal() {
    let dir = setup();
    let path = dir.path().join("excl.db");
    let conn = open(&path);
    conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE").unwrap();
    assert_eq!(conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, 100);
    assert!(conn.execute_batch("PRAGMA journal_mode=DELETE").unwrap_err().to_string().starts_with("walguard:"));
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert_eq!(header(&path), WAL);
    insert_rows(&conn, 101, 150);
    assert_eq!(contents(&conn), intact(150));
    assert!(!dir.path().join("excl.db-shm").exists(), "exclusive mode keeps the wal-index in heap memory");
}

#[test]
fn mmap_in_wal_and_rollback_modes() {
    let dir = setup();
    for wal in [true, false] {
        let path = if wal {
            wal_db(dir.path(), "mmap_wal.db", 1)
        } else {
            let p = dir.path().join("mmap_rb.db");
            open(&p).execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT); INSERT INTO t VALUES(1,'')").unwrap();
            p
        };
        let conn = open(&path);
        conn.execute_batch("PRAGMA mmap_size=67108864").unwrap();
        insert_rows(&conn, 2, 2000);
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        assert_eq!(contents(&conn), intact(2000));
        assert_eq!(header(&path), if wal { WAL } else { ROLLBACK });
    }
}

#[test]
fn cache_spill_with_a_tiny_cache_in_both_modes() {
    let dir = setup();
    for wal in [true, false] {
        let path = dir.path().join(if wal { "spill_wal.db" } else { "spill_rb.db" });
        let conn = open(&path);
        if wal {
            conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).unwrap();
        }
        conn.execute_batch("PRAGMA cache_size=2; PRAGMA cache_spill=1; CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
        insert_rows(&conn, 1, 5000);
        conn.execute_batch("BEGIN; UPDATE t SET pad = hex(randomblob(60)); ROLLBACK;").unwrap();
        assert_eq!(contents(&conn), intact(5000));
        assert_eq!(header(&path), if wal { WAL } else { ROLLBACK });
    }
}

#[test]
fn rollback_databases_work_and_can_move_to_wal() {
    let dir = setup();
    let path = dir.path().join("rb.db");
    let conn = open(&path);
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    for mode in ["DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF", "DELETE"] {
        assert_eq!(conn.query_row(&format!("PRAGMA journal_mode={mode}"), [], |r| r.get::<_, String>(0)).unwrap(), mode.to_lowercase());
        let n = contents(&conn).0;
        for x in n + 1..=n + 20 {
            conn.execute("INSERT INTO t VALUES(?1, '')", [x]).unwrap();
        }
        assert_eq!(header(&path), ROLLBACK, "{mode}");
    }
    assert_eq!(conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    assert_eq!(header(&path), WAL);
    assert_eq!(contents(&conn), intact(120));
}

#[test]
fn a_connection_that_never_loaded_walguard_shares_the_wal() {
    let dir = setup();
    let path = wal_db(dir.path(), "shared.db", 10);
    let guarded = open(&path);
    let plain = open_with_vfs(&path, PLAIN);
    for round in 0..20 {
        let base = 10 + round * 20;
        insert_rows(&guarded, base + 1, base + 10);
        insert_rows(&plain, base + 11, base + 20);
        let writer = if round % 2 == 0 { &guarded } else { &plain };
        writer.execute_batch("PRAGMA wal_checkpoint(PASSIVE)").unwrap();
    }
    assert_eq!(contents(&guarded), intact(410));
    assert_eq!(contents(&plain), intact(410));
    plain.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert_eq!(header(&path), WAL);
    // While the guarded connection is open, even the plain one cannot leave WAL.
    let err = run_to_end(&plain, "PRAGMA journal_mode=DELETE").unwrap_err();
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::DatabaseBusy), "{err}");
    assert_eq!(header(&path), WAL);
}

/// A switch made by another connection is never hidden from the guard: a guarded connection
/// that last saw `aux.db` in rollback mode, after an unguarded connection switched it to WAL,
/// must still refuse to write it back to rollback (the guard reads the header on disk).
#[test]
fn a_switch_by_another_connection_is_seen() {
    let dir = setup();
    let aux = dir.path().join("aux.db");
    {
        let c = open(&aux);
        c.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
        insert_rows(&c, 1, 10);
    }
    let guarded = open(&dir.path().join("main.db"));
    guarded.execute("ATTACH ?1 AS aux", [aux.to_str().unwrap()]).unwrap();
    // The guarded connection reads and writes aux in rollback mode.
    guarded.execute_batch("INSERT INTO aux.t VALUES(11, ''); SELECT count(*) FROM aux.t;").unwrap();
    assert_eq!(header(&aux), ROLLBACK);

    // Another process, without walguard, switches aux to WAL and writes.
    let other = open_with_vfs(&aux, PLAIN);
    assert_eq!(other.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    insert_rows(&other, 12, 20);
    drop(other);
    assert_eq!(header(&aux), WAL);

    // Straight away, the pragma finds aux "already" in DELETE mode (its pager has not looked
    // since) and writes nothing: the file stays WAL.
    assert_eq!(run_to_end(&guarded, "PRAGMA journal_mode=DELETE").unwrap(), ["delete"]);
    assert_eq!(header(&aux), WAL);
    // Its next read sees WAL; from then on a downgrade is a real one, and refused.
    let n: i64 = guarded.query_row("SELECT count(*) FROM aux.t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 20);
    let err = run_to_end(&guarded, "PRAGMA journal_mode=DELETE").unwrap_err();
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure), "{err}");
    assert_eq!(header(&aux), WAL);
    let n: i64 = guarded.query_row("SELECT count(*) FROM aux.t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 20);
    guarded.execute_batch("DETACH aux").unwrap();

    // The same through RESET_DATABASE + VACUUM on a connection that last saw "rollback".
    let path = dir.path().join("reset.db");
    let conn = open(&path);
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, 30);
    let other = open_with_vfs(&path, PLAIN);
    other.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).unwrap();
    drop(other);
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_RESET_DATABASE, true).unwrap();
    let result = conn.execute_batch("VACUUM");
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_RESET_DATABASE, false).unwrap();
    assert!(result.is_err());
    assert_eq!(header(&path), WAL);
    assert_eq!(contents(&conn), intact(30));
}
