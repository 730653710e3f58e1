//! The connection that loads walguard: its already-open files are guarded from the load on.
//! Connections here are opened through the unguarded copy of the VFS ([`PLAIN`]), so their
//! files exist outside walguard, as in a process that connects first and loads second.

use rusqlite::Connection;
use walguard_host_tests::*;

fn walguard_pragma(conn: &Connection, schema: &str) -> Option<String> {
    conn.query_row(&format!("PRAGMA {schema}.walguard"), [], |r| r.get(0)).ok()
}

#[test]
fn open_files_of_the_loading_connection_are_guarded() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let main = wal_db(dir.path(), "main.db", 30);
    let aux = wal_db(dir.path(), "aux.db", 20);
    let conn = open_with_vfs(&main, PLAIN);
    conn.execute("ATTACH ?1 AS aux", [aux.to_str().unwrap()]).unwrap();
    assert_eq!(walguard_pragma(&conn, "main"), None, "not guarded before the load");
    assert_eq!(vfs_name(&conn, "main").as_deref(), Some(PLAIN));

    load_into(&conn);
    assert_eq!(vfs_name(&conn, "main").as_deref(), Some("walguard/plain"));
    assert_eq!(vfs_name(&conn, "aux").as_deref(), Some("walguard/plain"));
    assert_eq!(walguard_pragma(&conn, "main").as_deref(), Some("enforce"));
    assert_eq!(walguard_pragma(&conn, "aux").as_deref(), Some("enforce"));
    assert!(!logged(&format!("guarding schema aux, opened before the load, policy enforce: '{}'", aux.display())).is_empty());

    let err = conn.execute_batch("PRAGMA aux.journal_mode=DELETE").unwrap_err();
    assert!(err.to_string().starts_with("walguard: refused journal_mode=DELETE"), "{err}");
    let err = run_to_end(&conn, "PRAGMA journal_mode=PERSIST").unwrap_err();
    assert!(err.to_string().starts_with("walguard: refused journal_mode=PERSIST"), "{err}");
    assert_eq!((header(&main), header(&aux)), (WAL, WAL));

    // Ordinary work through the swapped methods: writes, checkpoint, VACUUM.
    insert_rows(&conn, 31, 40);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA aux.wal_checkpoint(RESTART);").unwrap();
    assert_eq!(contents(&conn), intact(40));
    drop(conn); // closes both adopted files: the original methods are put back and closed
    let reopened = open_with_vfs(&main, PLAIN);
    assert_eq!(contents(&reopened), intact(40));
    assert_eq!((header(&main), header(&aux)), (WAL, WAL));
}

#[test]
fn loading_mid_transaction_and_with_a_read_in_progress() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let path = wal_db(dir.path(), "app.db", 50);
    let conn = open_with_vfs(&path, PLAIN);
    conn.execute_batch("BEGIN; INSERT INTO t VALUES(51, 'in the transaction');").unwrap();
    {
        // A read statement holds the WAL read lock while the methods are swapped.
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        let mut rows = stmt.query([]).unwrap();
        assert_eq!(rows.next().unwrap().unwrap().get::<_, i64>(0).unwrap(), 1);
        load_into(&conn);
        assert_eq!(rows.next().unwrap().unwrap().get::<_, i64>(0).unwrap(), 2);
    }
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(contents(&conn), intact(51));
    assert_eq!(walguard_pragma(&conn, "main").as_deref(), Some("enforce"));
    assert!(conn.execute_batch("PRAGMA journal_mode=DELETE").is_err());
    assert_eq!(header(&path), WAL);
}

#[test]
fn a_write_transaction_in_progress_when_loaded_rolls_back() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rb.db");
    let conn = open_with_vfs(&path, PLAIN);
    conn.execute_batch("PRAGMA cache_size=2; CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, 100);
    // A write transaction spills pages to the file (tiny cache), then walguard is loaded,
    // then the transaction rolls back through the adopted methods.
    conn.execute_batch("BEGIN; UPDATE t SET pad = hex(randomblob(200));").unwrap();
    load_into(&conn);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(contents(&conn), intact(100));
    assert_eq!(header(&path), ROLLBACK);
}

#[test]
fn loading_twice_never_wraps_twice() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let path = wal_db(dir.path(), "app.db", 5);
    let conn = open_with_vfs(&path, PLAIN);
    load_into(&conn);
    load_into(&conn);
    assert_eq!(vfs_name(&conn, "main").as_deref(), Some("walguard/plain"));
    let guarded = open(&path); // a connection opened after the load: already a walguard file
    load_into(&guarded);
    assert_eq!(vfs_name(&guarded, "main").as_deref(), Some("walguard/unix"));
    assert_eq!(contents(&conn), intact(5));
}

#[test]
fn in_memory_and_temp_databases_are_left_alone() {
    load_walguard();
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TEMP TABLE tt(x); ATTACH ':memory:' AS m2; CREATE TABLE m2.x(y);").unwrap();
    load_into(&conn);
    assert_eq!(walguard_pragma(&conn, "main"), None);
    assert_eq!(walguard_pragma(&conn, "temp"), None);
    assert_eq!(walguard_pragma(&conn, "m2"), None);
    conn.execute_batch("PRAGMA journal_mode=OFF; INSERT INTO tt VALUES(1); INSERT INTO m2.x VALUES(2);").unwrap();
}
