//! Helpers for the host tests: load `libwalguard.so` into rusqlite's bundled SQLite, make
//! databases, read their headers, and a fault-injecting VFS that sits *below* walguard.
//!
//! walguard wraps whatever VFS is the default when it is loaded, so a test process that
//! needs faults calls [`install_fault_vfs`] before [`load_walguard`]; the stack is then
//! `walguard -> faulty -> unix`.

use std::ffi::{CStr, c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, OpenFlags, ffi};

/// Where the extension is: `$WALGUARD_LIB`, or `libwalguard.so` at the repository root.
pub fn lib_path() -> PathBuf {
    std::env::var_os("WALGUARD_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join("libwalguard.so"))
}

/// The VFS name of an unguarded connection in the test process: a copy of the default VFS
/// (unix, or "faulty") registered under this name before walguard loads. walguard answers to
/// the default VFS's own names (`unix`, `unix-excl`, ...), so after the load no connection can
/// reach the bare VFS under those: a test that needs an unguarded sibling in-process uses this.
pub const PLAIN: &str = "plain";

/// Load walguard into this process's SQLite, once. Every connection opened afterwards
/// goes through it, but those opened through [`PLAIN`].
pub fn load_walguard() {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        log_lines(); // SQLITE_CONFIG_LOG must come before SQLite initialises
        // SAFETY: a registered VFS copied into a leaked, process-lifetime structure.
        unsafe {
            let base = ffi::sqlite3_vfs_find(std::ptr::null());
            let mut plain = *base;
            plain.zName = c"plain".as_ptr();
            plain.pNext = std::ptr::null_mut();
            assert_eq!(ffi::sqlite3_vfs_register(Box::leak(Box::new(plain)), 0), ffi::SQLITE_OK);
        }
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

/// Load walguard into `conn` too: loaded already in this process, it adopts `conn`'s files.
pub fn load_into(conn: &Connection) {
    // SAFETY: our own extension, built from this repository.
    unsafe {
        conn.load_extension_enable().unwrap();
        conn.load_extension(lib_path(), None::<&str>).unwrap();
    }
}

/// Open a connection the way an application would (read-write, create, URI filenames).
pub fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::default()).unwrap()
}

/// Open through a VFS by name, bypassing the default (e.g. [`PLAIN`]: no walguard).
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
// The fault VFS: "faulty", a copy of the default VFS whose main-database files can be made
// to fail chosen methods, and which can snapshot a database and its journal at the moment
// SQLite deletes the journal (the state a crash at that point leaves behind).

/// The io methods of a main database file that [`Fault`] can make fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    ShmMap,
    ShmLock,
    FileControl,
    /// Reads at offset 0 only: the header.
    ReadPage1,
    Write,
    Sync,
}

/// A fault to inject: `method` returns `code` once (transient) or until cleared (persistent).
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub method: Method,
    pub code: c_int,
    pub persistent: bool,
}

static FAULT: Mutex<Option<Fault>> = Mutex::new(None);
/// How many times an injected fault fired since it was armed.
pub static FAULTS_FIRED: AtomicUsize = AtomicUsize::new(0);

/// Arm a fault on every main database file opened through "faulty" (replacing any other).
pub fn arm(fault: Fault) {
    FAULTS_FIRED.store(0, Ordering::SeqCst);
    *FAULT.lock().unwrap() = Some(fault);
}

/// Clear the armed fault; returns how many times it fired.
pub fn disarm() -> usize {
    *FAULT.lock().unwrap() = None;
    FAULTS_FIRED.load(Ordering::SeqCst)
}

/// The code to fail `method` with now, if a fault is armed for it.
fn fault_for(method: Method) -> Option<c_int> {
    let mut armed = FAULT.lock().unwrap();
    let fault = (*armed)?;
    if fault.method != method {
        return None;
    }
    if !fault.persistent {
        *armed = None;
    }
    FAULTS_FIRED.fetch_add(1, Ordering::SeqCst);
    Some(fault.code)
}

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
static BASE: OnceLock<BaseVfs> = OnceLock::new();

/// One test at a time on the stack walguard -> "faulty" -> unix: the faults and snapshots are
/// process-wide switches. Hold the returned guard for the whole test; the directory is the
/// test's own.
pub fn fault_session() -> (MutexGuard<'static, ()>, tempfile::TempDir) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    install_fault_vfs();
    load_walguard();
    (serial, tempfile::tempdir().unwrap())
}

/// Register "faulty" as the default VFS. Call before [`load_walguard`].
pub fn install_fault_vfs() {
    BASE.get_or_init(|| {
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

/// The default VFS's io-methods for main databases, and the faulty copy of it.
struct Tables {
    real: &'static ffi::sqlite3_io_methods,
    faulty: &'static ffi::sqlite3_io_methods,
}
// SAFETY: both tables are immutable and live for the process.
unsafe impl Send for Tables {}
// SAFETY: as above.
unsafe impl Sync for Tables {}
static TABLES: OnceLock<Tables> = OnceLock::new();

fn real() -> &'static ffi::sqlite3_io_methods {
    TABLES.get().unwrap().real
}

unsafe extern "C" fn faulty_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    // SAFETY: forwarding to the real default VFS, then swapping in a copy of its io-methods
    // table whose chosen methods can fail; the copy lives for the process.
    unsafe {
        let base = BASE.get().unwrap().0;
        let rc = (*base).xOpen.unwrap()(base, name, file, flags, out);
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            let tables = TABLES.get_or_init(|| {
                let real: &'static ffi::sqlite3_io_methods = &*(*file).pMethods;
                let faulty = ffi::sqlite3_io_methods {
                    xShmMap: Some(faulty_shm_map),
                    xShmLock: Some(faulty_shm_lock),
                    xFileControl: Some(faulty_file_control),
                    xRead: Some(faulty_read),
                    xWrite: Some(faulty_write),
                    xSync: Some(faulty_sync),
                    ..*real
                };
                Tables { real, faulty: Box::leak(Box::new(faulty)) }
            });
            assert!(std::ptr::eq((*file).pMethods, tables.real), "one io-methods table for main databases");
            (*file).pMethods = tables.faulty;
        }
        rc
    }
}

unsafe extern "C" fn faulty_shm_map(
    f: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut std::ffi::c_void,
) -> c_int {
    if let Some(rc) = fault_for(Method::ShmMap) {
        return rc;
    }
    // SAFETY: the real method of this file.
    unsafe { real().xShmMap.unwrap()(f, region, size, extend, out) }
}

unsafe extern "C" fn faulty_shm_lock(f: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // Unlocking never fails: SQLite does not check it, and a failed unlock would wedge the
    // test rather than exercise anything.
    if flags & ffi::SQLITE_SHM_LOCK != 0 {
        if let Some(rc) = fault_for(Method::ShmLock) {
            return rc;
        }
    }
    // SAFETY: the real method of this file.
    unsafe { real().xShmLock.unwrap()(f, offset, n, flags) }
}

unsafe extern "C" fn faulty_file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut std::ffi::c_void) -> c_int {
    if let Some(rc) = fault_for(Method::FileControl) {
        return rc;
    }
    // SAFETY: the real method of this file.
    unsafe { real().xFileControl.unwrap()(f, op, arg) }
}

unsafe extern "C" fn faulty_read(f: *mut ffi::sqlite3_file, buf: *mut std::ffi::c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    if offset == 0 {
        if let Some(rc) = fault_for(Method::ReadPage1) {
            return rc;
        }
    }
    // SAFETY: the real method of this file.
    unsafe { real().xRead.unwrap()(f, buf, amt, offset) }
}

unsafe extern "C" fn faulty_write(
    f: *mut ffi::sqlite3_file,
    buf: *const std::ffi::c_void,
    amt: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    if let Some(rc) = fault_for(Method::Write) {
        return rc;
    }
    // SAFETY: the real method of this file.
    unsafe { real().xWrite.unwrap()(f, buf, amt, offset) }
}

unsafe extern "C" fn faulty_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if let Some(rc) = fault_for(Method::Sync) {
        return rc;
    }
    // SAFETY: the real method of this file.
    unsafe { real().xSync.unwrap()(f, flags) }
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
        let base = BASE.get().unwrap().0;
        (*base).xDelete.unwrap()(base, name, sync_dir)
    }
}
