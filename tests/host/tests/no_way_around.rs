//! No way around the guard (issue 23), in a real SQLite (rusqlite's bundled one):
//! - every name of the default VFS and its variants reaches walguard, for `sqlite3_open_v2`
//!   and for ATTACH;
//! - the refusal's own advice (a `file:` URI with `walguard=off`) converts exactly the file it
//!   names, whatever its path holds;
//! - a rollback journal planted beside a WAL database grants nothing to a downgrade that does
//!   not play it back (`journal_mode=OFF` and `MEMORY` never read the journal on disk);
//! - a file adopted by a connection in shared-cache mode outlives that connection safely.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use walguard_core::journal::{JOURNAL_MAGIC, page_checksum};
use walguard_host_tests::*;

#[test]
fn every_name_of_the_default_vfs_reaches_walguard() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let path = wal_db(dir.path(), "app.db", 10);
    for vfs in ["unix", "unix-excl", "walguard"] {
        let conn = open_with_vfs(&path, vfs);
        let expected = format!("walguard/{}", if vfs == "walguard" { "unix" } else { vfs });
        assert_eq!(vfs_name(&conn, "main").as_ref(), Some(&expected), "{vfs}");
        let err = conn.execute_batch("PRAGMA journal_mode=DELETE").unwrap_err();
        assert!(err.to_string().starts_with("walguard: refused journal_mode=DELETE"), "{vfs}: {err}");
        // ATTACH finds its VFS under the name of the attaching connection's.
        let other = open_with_vfs(&dir.path().join(format!("main-{vfs}.db")), vfs);
        other.execute("ATTACH ?1 AS o", [path.to_str().unwrap()]).unwrap();
        assert_eq!(vfs_name(&other, "o").as_ref(), Some(&expected), "{vfs}");
        let err = run_to_end(&other, "PRAGMA o.journal_mode=TRUNCATE").unwrap_err();
        assert!(err.to_string().starts_with("walguard: refused journal_mode=TRUNCATE"), "{vfs}: {err}");
        assert_eq!(header(&path), WAL, "{vfs}");
    }
    let conn = open(&path);
    assert_eq!(contents(&conn), intact(10));
}

/// The path of every database walguard suggests converting is percent-encoded: following the
/// advice converts that file, never a new empty one named by a part of its path.
#[test]
fn the_refusals_advice_converts_exactly_the_file_it_names() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["plain.db", "a#b.db", "what?.db", "100%.db", "with space.db", "x%23y.db"].into_iter().enumerate() {
        let sub = dir.path().join(format!("dir #?% {i}"));
        std::fs::create_dir_all(&sub).unwrap();
        let path = wal_db(&sub, name, 7);
        let conn = open(&path);
        let err = conn.execute_batch("PRAGMA journal_mode=DELETE").unwrap_err().to_string();
        let uri = err.split("open it as '").nth(1).and_then(|rest| rest.strip_suffix('\'')).unwrap_or_else(|| panic!("{err}"));
        drop(conn);
        let deliberate = Connection::open_with_flags(uri, OpenFlags::default()).unwrap();
        assert_eq!(deliberate.query_row("PRAGMA walguard", [], |r| r.get::<_, String>(0)).unwrap(), "off", "{uri}");
        assert_eq!(deliberate.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0)).unwrap(), "delete", "{uri}");
        assert_eq!(contents(&deliberate), intact(7), "{uri}");
        drop(deliberate);
        assert_eq!(header(&path), ROLLBACK, "{uri} converted {}", path.display());
        let mut files: Vec<String> = std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        files.sort();
        assert_eq!(files, [name], "{uri} created nothing else");
    }
}

/// A rollback journal as SQLite writes it, holding `page` as page 1 of a database of `pages`
/// pages: a record `pager_playback` would accept.
fn journal_with_page1(page: &[u8], pages: u32) -> Vec<u8> {
    let cksum_init = 0x5eed;
    let mut journal = JOURNAL_MAGIC.to_vec();
    for field in [1, cksum_init, pages, 512, page.len() as u32] {
        journal.extend_from_slice(&field.to_be_bytes());
    }
    journal.resize(512, 0);
    journal.extend_from_slice(&1u32.to_be_bytes());
    journal.extend_from_slice(page);
    journal.extend_from_slice(&page_checksum(cksum_init, page).to_be_bytes());
    journal
}

/// Item 4: an unprefixed `journal_mode=OFF` or `MEMORY` reaches an ATTACHed WAL file only as a
/// header write, and neither mode writes the journal on disk. A journal planted beside the file
/// holding exactly the page 1 that downgrade writes (made by the same downgrade of a copy,
/// without walguard) was taken for a playback. Under OFF it grants nothing now. Under MEMORY,
/// SQLite itself finds the journal hot once the WAL is gone and plays it back, within the same
/// statement, exactly as without walguard (checked on a second copy): a real playback, which
/// walguard must let through (README, Limits). The journal is planted once the WAL is open:
/// planted before, SQLite plays it back at the first read, with or without walguard.
#[test]
fn a_journal_planted_beside_an_off_or_memory_downgrade_grants_nothing_sqlite_does_not() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    for mode in ["OFF", "MEMORY"] {
        let path = wal_db(dir.path(), &format!("w-{mode}.db"), 40);
        let copies = ["copy", "plain"].map(|c| dir.path().join(format!("{c}-{mode}.db")));
        for copy in &copies {
            std::fs::copy(&path, copy).unwrap();
        }
        // The page 1 the downgrade writes, from the same downgrade of a copy, unguarded.
        let plain = open_with_vfs(&dir.path().join(format!("plain-main-{mode}.db")), PLAIN);
        plain.execute("ATTACH ?1 AS c", [copies[0].to_str().unwrap()]).unwrap();
        run_to_end(&plain, &format!("PRAGMA journal_mode={mode}")).unwrap();
        drop(plain);
        assert_eq!(header(&copies[0]), ROLLBACK, "{mode}: the plain downgrade went through");
        let bytes = std::fs::read(&copies[0]).unwrap();
        let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let journal = journal_with_page1(&bytes[..page_size], (bytes.len() / page_size) as u32);
        // The same downgrade with the journal planted once the WAL is open: guarded, and plain.
        let downgrade = |db: &Path, vfs: &str| {
            let conn = open_with_vfs(&dir.path().join(format!("main-{vfs}-{mode}.db")), vfs);
            conn.execute("ATTACH ?1 AS w", [db.to_str().unwrap()]).unwrap();
            assert_eq!(conn.query_row("SELECT count(*) FROM w.t", [], |r| r.get::<_, i64>(0)).unwrap(), 40);
            std::fs::write(db.with_extension("db-journal"), &journal).unwrap();
            let _ = run_to_end(&conn, &format!("PRAGMA journal_mode={mode}"));
            let outcome = header(db);
            drop(conn);
            let _ = std::fs::remove_file(db.with_extension("db-journal"));
            outcome
        };
        let guarded = downgrade(&path, "unix");
        let bare = downgrade(&copies[1], PLAIN);
        match mode {
            "OFF" => assert_eq!((guarded, bare), (WAL, ROLLBACK), "OFF: the planted journal grants nothing"),
            _ => assert_eq!((guarded, bare), (ROLLBACK, ROLLBACK), "MEMORY: SQLite's own hot-journal playback, as without walguard"),
        }
        let check = open(&path);
        assert_eq!(check.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok", "{mode}");
        assert_eq!(check.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 40, "{mode}");
    }
}

/// Item 5: in shared-cache mode, a file adopted at a load outlives the loading connection
/// (another connection shares it). Layer 1 of that file then runs without the closed
/// connection (`make memcheck` runs this under valgrind: no read of freed memory).
#[test]
fn an_adopted_shared_cache_file_outlives_its_loading_connection() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let path = wal_db(dir.path(), "shared.db", 12);
    let uri = format!("file:{}?cache=shared", path.display());
    let flags = OpenFlags::default() | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    let loader = Connection::open_with_flags_and_vfs(&uri, flags, PLAIN).unwrap();
    let other = Connection::open_with_flags_and_vfs(&uri, flags, PLAIN).unwrap();
    load_into(&loader);
    assert_eq!(vfs_name(&other, "main").as_deref(), Some("walguard/plain"), "one shared file, adopted");
    drop(loader);
    // Churn the allocator, so that a pointer to the closed connection would read reused memory.
    let churn: Vec<Connection> = (0..8).map(|_| Connection::open_in_memory().unwrap()).collect();
    drop(churn);
    for _ in 0..3 {
        let err = other.execute_batch("PRAGMA journal_mode=DELETE").unwrap_err();
        assert!(err.to_string().starts_with("walguard: refused journal_mode=DELETE"), "{err}");
    }
    assert_eq!(other.query_row("PRAGMA walguard", [], |r| r.get::<_, String>(0)).unwrap(), "enforce");
    assert_eq!(header(&path), WAL);
    assert_eq!(contents(&other), intact(12));
}
