//! Helpers for the host tests: load `libwalguard.so` into rusqlite's bundled SQLite, make
//! databases, read their headers, and a fault-injecting VFS that sits *below* walguard.
//!
//! walguard wraps whatever VFS is the default when it is loaded, so a test process that
//! needs faults calls [`install_fault_vfs`] before [`load_walguard`]; the stack is then
//! `walguard -> faulty -> unix`.

use std::ffi::{CStr, c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use rusqlite::{Connection, OpenFlags, ffi};

/// Where the extension is: `$WALGUARD_LIB`, or `libwalguard.so` at the repository root.
pub fn lib_path() -> PathBuf {
    std::env::var_os("WALGUARD_LIB").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("libwalguard.so")
    })
}

/// Load walguard into this process's SQLite, once. Every connection opened afterwards
/// goes through it.
pub fn load_walguard() {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        log_lines(); // SQLITE_CONFIG_LOG must come before SQLite initialises
        let path = lib_path();
        assert!(path.exists(), "{} is missing: run `make` first", path.display());
        let conn = Connection::open_in_memory().unwrap();
        // SAFETY: loading our own extension, built from this repository.
        unsafe {
            conn.load_extension_enable().unwrap();
            conn.load_extension(&path, None::<&str>).unwrap();
        }
    });
}

/// Open a connection the way an application would (read-write, create, URI filenames).
pub fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::default()).unwrap()
}

/// Open through a VFS by name, bypassing the default (e.g. "unix": no walguard).
pub fn open_with_vfs(path: &Path, vfs: &str) -> Connection {
    Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).unwrap()
}

/// Bytes 18 and 19 of the file's header as they are on disk.
pub fn header(path: &Path) -> [u8; 2] {
    let bytes = std::fs::read(path).unwrap();
    [bytes[18], bytes[19]]
}

pub const WAL: [u8; 2] = [2, 2];
pub const ROLLBACK: [u8; 2] = [1, 1];

/// A WAL database at `dir/name` with table `t` holding `rows` rows (x = 1..=rows).
pub fn wal_db(dir: &Path, name: &str, rows: i64) -> PathBuf {
    let path = dir.join(name);
    let conn = open(&path);
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT)").unwrap();
    insert_rows(&conn, 1, rows);
    path
}

/// Insert rows `from..=to` into `t`.
pub fn insert_rows(conn: &Connection, from: i64, to: i64) {
    let tx = conn.unchecked_transaction().unwrap();
    for x in from..=to {
        tx.execute("INSERT INTO t VALUES(?1, hex(randomblob(40)))", [x]).unwrap();
    }
    tx.commit().unwrap();
}

/// Row count and sum of `t`, and `integrity_check`: the state that must survive anything.
pub fn contents(conn: &Connection) -> (i64, i64, String) {
    let (n, sum) = conn.query_row("SELECT count(*), coalesce(sum(x),0) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    (n, sum, check)
}

/// The expected [`contents`] of a table holding 1..=rows.
pub fn intact(rows: i64) -> (i64, i64, String) {
    (rows, rows * (rows + 1) / 2, "ok".to_owned())
}

/// Step `sql` to its end, collecting the first column of every row. A pragma's write is
/// committed after its row is returned, so only a client that steps to the end sees an
/// error from the commit (clients that stop at the first row see it vanish at reset).
pub fn run_to_end(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([], |r| r.get::<_, String>(0))?.collect()
}

/// `SQLITE_FCNTL_VFSNAME` for a schema: `walguard/unix` when guarded.
pub fn vfs_name(conn: &Connection, schema: &str) -> Option<String> {
    let schema = std::ffi::CString::new(schema).unwrap();
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: a live connection handle and the documented out-parameter of VFSNAME.
    unsafe {
        let rc = ffi::sqlite3_file_control(conn.handle(), schema.as_ptr(), ffi::SQLITE_FCNTL_VFSNAME, (&raw mut out).cast());
        if rc != ffi::SQLITE_OK || out.is_null() {
            return None;
        }
        let name = CStr::from_ptr(out).to_string_lossy().into_owned();
        ffi::sqlite3_free(out.cast());
        Some(name)
    }
}

/// Every `sqlite3_log` line of this process, from the first call on.
pub fn log_lines() -> &'static Mutex<Vec<(c_int, String)>> {
    static LINES: OnceLock<Mutex<Vec<(c_int, String)>>> = OnceLock::new();
    LINES.get_or_init(|| {
        fn record(code: c_int, msg: &str) {
            log_lines().lock().unwrap().push((code, msg.to_owned()));
        }
        // SAFETY: configured before any connection exists in this process (callers use it
        // first thing), as SQLITE_CONFIG_LOG requires.
        unsafe { rusqlite::trace::config_log(Some(record)).unwrap() };
        Mutex::new(Vec::new())
    })
}

/// Log lines containing `needle`.
pub fn logged(needle: &str) -> Vec<String> {
    log_lines().lock().unwrap().iter().filter(|(_, m)| m.contains(needle)).map(|(_, m)| m.clone()).collect()
}

// ---------------------------------------------------------------------------------------
// The fault VFS: "faulty", a copy of the default VFS whose main-database files can be told
// to fail their next xSync, and which can snapshot a database and its journal at the moment
// SQLite deletes the journal (the state a crash at that point leaves behind).

/// Fail the next xSync of a main database file.
pub static FAIL_NEXT_DB_SYNC: AtomicBool = AtomicBool::new(false);
/// When set, the xDelete of `<db>-journal` first copies `<db>` and `<db>-journal` into
/// this directory, under their own file names.
pub static SNAPSHOT_ON_JOURNAL_DELETE: Mutex<Option<PathBuf>> = Mutex::new(None);
/// How many snapshots were taken.
pub static SNAPSHOTS: AtomicUsize = AtomicUsize::new(0);

/// The VFS "faulty" forwards to (the default one before it was installed).
struct BaseVfs(*mut ffi::sqlite3_vfs);
// SAFETY: set once before use, then only read; registered VFSes live for the process.
unsafe impl Send for BaseVfs {}
// SAFETY: as above.
unsafe impl Sync for BaseVfs {}
static SAVED: OnceLock<BaseVfs> = OnceLock::new();

/// Register "faulty" as the default VFS. Call before [`load_walguard`].
pub fn install_fault_vfs() {
    SAVED.get_or_init(|| {
        log_lines(); // SQLITE_CONFIG_LOG must come before SQLite initialises
        // SAFETY: plain VFS registration with leaked, process-lifetime structures.
        unsafe {
            let base = ffi::sqlite3_vfs_find(std::ptr::null());
            assert!(!base.is_null());
            let mut vfs = *base;
            vfs.zName = c"faulty".as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.xOpen = Some(faulty_open);
            vfs.xDelete = Some(faulty_delete);
            let vfs = Box::leak(Box::new(vfs));
            assert_eq!(ffi::sqlite3_vfs_register(vfs, 1), ffi::SQLITE_OK);
            BaseVfs(base)
        }
    });
}

/// The default VFS's io-methods for main databases, and the copy with a failing xSync.
static METHODS_ONCE: OnceLock<(usize, usize)> = OnceLock::new();

unsafe extern "C" fn faulty_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    // SAFETY: forwarding to the real default VFS, then swapping in a copy of its io-methods
    // table whose xSync can fail; the copy lives for the process.
    unsafe {
        let base = SAVED.get().unwrap().0;
        let rc = (*base).xOpen.unwrap()(base, name, file, flags, out);
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            let (orig, copy) = *METHODS_ONCE.get_or_init(|| {
                let orig = (*file).pMethods;
                let mut copy = *orig;
                copy.xSync = Some(faulty_sync);
                (orig as usize, Box::leak(Box::new(copy)) as *mut _ as usize)
            });
            assert_eq!((*file).pMethods as usize, orig, "one io-methods table for main databases");
            (*file).pMethods = copy as *const ffi::sqlite3_io_methods;
        }
        rc
    }
}

unsafe extern "C" fn faulty_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if FAIL_NEXT_DB_SYNC.swap(false, Ordering::SeqCst) {
        return ffi::SQLITE_IOERR_FSYNC;
    }
    let orig = METHODS_ONCE.get().unwrap().0 as *const ffi::sqlite3_io_methods;
    // SAFETY: the real xSync of this file.
    unsafe { (*orig).xSync.unwrap()(file, flags) }
}

unsafe extern "C" fn faulty_delete(_vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    // SAFETY: `name` is a valid path from SQLite; forwarding to the real VFS.
    unsafe {
        let path = PathBuf::from(CStr::from_ptr(name).to_str().unwrap());
        if let Some(dir) = SNAPSHOT_ON_JOURNAL_DELETE.lock().unwrap().as_ref() {
            if let Some(db) = path.to_str().unwrap().strip_suffix("-journal") {
                let db = Path::new(db);
                std::fs::copy(db, dir.join(db.file_name().unwrap())).unwrap();
                std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
                SNAPSHOTS.fetch_add(1, Ordering::SeqCst);
            }
        }
        let base = SAVED.get().unwrap().0;
        (*base).xDelete.unwrap()(base, name, sync_dir)
    }
}
