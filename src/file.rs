//! Guarded main database files and their io methods.
//!
//! A file is guarded by pointing its `pMethods` at a heap [`Block`]: an io-methods table
//! followed by the file's [`Guard`], which keeps the lower table. The same mechanism serves
//! both ways a file gets guarded:
//! - [`open`]: a main database opened through the walguard VFS is opened by the lower VFS
//!   on SQLite's own `sqlite3_file`, then guarded;
//! - [`adopt`]: a file the loading connection opened before walguard existed is guarded in
//!   place, from the load on.
//!
//! Closing the file puts the lower table back, closes the file and frees the block.
//!
//! walguard's table is the lower one with four methods replaced: `xRead` (to see the header
//! when SQLite reads it), `xWrite` (layer 2), `xFileControl` (layer 1, `PRAGMA walguard`,
//! `.vfsname`) and `xClose`. Every other entry is the lower function itself, called on the
//! same `sqlite3_file` as it always was: locking, syncing, shared memory and memory mapping
//! pay nothing, and `iVersion` and the optional methods are exactly the lower file's.

use std::ffi::{c_char, c_int, c_void};
use std::slice;

use libsqlite3_sys as ffi;
use walguard_core::{HeaderFormat, Policy};
use walguard_core::header::{READ_VERSION_OFFSET, written_read_version};

use crate::config;
use crate::guard::{Guard, header_seen};
use crate::sqlite;

/// What a guarded file's `pMethods` points to.
#[repr(C)]
struct Block {
    /// Must come first: `pMethods` points here.
    methods: ffi::sqlite3_io_methods,
    guard: Guard,
}

/// The guard of a file whose `pMethods` is a [`Block`].
///
/// # Safety
/// `file` is a guarded, open file; SQLite serialises calls on one file.
unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Guard {
    // SAFETY: the caller vouches that pMethods is the first field of a live Block.
    unsafe { &mut (*(*file).pMethods.cast::<Block>().cast_mut()).guard }
}

/// Open a main database file through the lower VFS and guard it.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen`; `file` has room for the lower szOsFile; `name`
/// is a database filename SQLite keeps valid until xClose.
#[inline(never)]
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: as the caller vouches; a failed lower open leaves pMethods as the lower VFS
    // set it, for SQLite to close, exactly as without walguard.
    unsafe {
        let policy = match policy_from_uri(name) {
            Ok(policy) => policy,
            Err(message) => {
                sqlite::log(ffi::SQLITE_CANTOPEN, &message);
                (*file).pMethods = std::ptr::null();
                return ffi::SQLITE_CANTOPEN;
            }
        };
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        let rc = lower_open(lower_vfs, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*file).pMethods.is_null() {
            return rc;
        }
        let path = String::from_utf8_lossy(sqlite::bytes(name).unwrap_or_default());
        let version = (*(*file).pMethods).iVersion;
        if !KNOWN_VERSIONS.contains(&version) {
            sqlite::log(ffi::SQLITE_WARNING, &format!("walguard: io-methods version {version} is unknown, so the file is NOT guarded: '{path}'"));
            return ffi::SQLITE_OK;
        }
        if policy == Policy::Off {
            sqlite::log(ffi::SQLITE_NOTICE, &format!("walguard: guard off (URI parameter walguard=off): '{path}'"));
        }
        install(file, Guard::new(file, (*file).pMethods, lower_vfs, name, policy));
        ffi::SQLITE_OK
    }
}

/// The io-methods versions whose every field walguard's table carries: a newer table would
/// have fields past the end of ours.
const KNOWN_VERSIONS: std::ops::RangeInclusive<c_int> = 1..=3;

/// Why an open file could not be adopted.
pub enum NotAdopted {
    /// Already guarded (opened through walguard, or adopted before).
    AlreadyGuarded,
    /// Its io methods have a version walguard does not know.
    UnknownVersion(c_int),
    /// Its `walguard` URI parameter is not a policy (the message says so).
    InvalidPolicy(String),
}

/// Guard a file that is already open, from now on. `in_write_transaction` tells whether the
/// connection is in the middle of a write transaction, whose rollback must never be refused.
///
/// # Safety
/// `file` is an open main database file of a connection whose mutex the caller holds (no
/// call on the file is in progress); `vfs` opened it; `path` is its filename as SQLite keeps
/// it (valid until the file is closed).
pub unsafe fn adopt(
    file: *mut ffi::sqlite3_file,
    vfs: *mut ffi::sqlite3_vfs,
    path: *const c_char,
    in_write_transaction: bool,
) -> Result<Policy, NotAdopted> {
    // SAFETY: the caller vouches that `file` is open, so pMethods is a valid table.
    let lower = unsafe { &*(*file).pMethods };
    if lower.xClose.is_some_and(|f| std::ptr::fn_addr_eq(f, close as unsafe extern "C" fn(_) -> _)) {
        return Err(NotAdopted::AlreadyGuarded);
    }
    if !KNOWN_VERSIONS.contains(&lower.iVersion) {
        return Err(NotAdopted::UnknownVersion(lower.iVersion));
    }
    // SAFETY: `path` is a database filename, which sqlite3_uri_parameter accepts.
    let policy = unsafe { policy_from_uri(path) }.map_err(NotAdopted::InvalidPolicy)?;
    let mut guard = Guard::new(file, lower, vfs, path, policy);
    // A transaction already under way may have switched the header to WAL; its rollback
    // must go through. No downgrade can happen inside a transaction (SQLite refuses to
    // leave WAL or VACUUM there), so this allows nothing else.
    guard.uncommitted_switch = in_write_transaction;
    // SAFETY: the caller holds the connection's mutex, so nothing uses the table while it
    // is swapped.
    unsafe { install(file, guard) };
    Ok(policy)
}

/// Point `file` at a new block holding walguard's table over `guard.lower_methods`.
///
/// # Safety
/// `file` is open with `guard.lower_methods` and not in use by another thread.
unsafe fn install(file: *mut ffi::sqlite3_file, guard: Guard) {
    // SAFETY: lower_methods is the file's valid table.
    let lower = unsafe { &*guard.lower_methods };
    let methods = ffi::sqlite3_io_methods {
        xClose: Some(close),
        xRead: Some(read),
        xWrite: Some(write),
        xFileControl: Some(file_control),
        ..*lower
    };
    let block = Box::leak(Box::new(Block { methods, guard }));
    // SAFETY: the block lives until `close` reclaims it.
    unsafe { (*file).pMethods = &block.methods };
}

/// The policy for one file: the `walguard` URI parameter, or the process default.
///
/// # Safety
/// `name` is a database filename as SQLite passes it to `xOpen`.
unsafe fn policy_from_uri(name: *const c_char) -> Result<Policy, String> {
    // SAFETY: sqlite3_uri_parameter accepts any such filename and returns null or a string
    // that lives as long as the filename.
    let value = unsafe { sqlite::bytes(ffi::sqlite3_uri_parameter(name, c"walguard".as_ptr())) };
    match value {
        None => Ok(config::default_policy()),
        Some(v) => Policy::parse(v).ok_or_else(|| {
            format!(
                "walguard: invalid value '{}' for URI parameter walguard; valid values: {}",
                String::from_utf8_lossy(v),
                Policy::valid_names()
            )
        }),
    }
}

// The four io methods walguard replaces. The lower methods exist (SQLite requires them of
// every file), so the `else` arms are unreachable in practice; they return an error rather
// than panic across the FFI boundary.

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the block was leaked by `install` and is
    // reclaimed exactly once, here, after the lower table is back in place.
    unsafe {
        let block = Box::from_raw((*file).pMethods.cast::<Block>().cast_mut());
        (*file).pMethods = block.guard.lower_methods;
        (*block.guard.lower_methods).xClose.map_or(ffi::SQLITE_OK, |f| f(file))
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = guard(file);
        let Some(f) = (*g.lower_methods).xRead else { return ffi::SQLITE_IOERR_READ };
        if offset != 0 {
            return f(file, buf, amt, offset); // the hot path: a tail call
        }
        read_header(g, file, f, buf, amt)
    }
}

type Read = unsafe extern "C" fn(*mut ffi::sqlite3_file, *mut c_void, c_int, ffi::sqlite3_int64) -> c_int;

/// A read from offset 0: remember what the header on disk says. Out of line, so that the
/// other reads pay nothing for it.
///
/// # Safety
/// As [`read`]; `lower_read` is the lower xRead of `file`.
#[inline(never)]
unsafe fn read_header(g: &mut Guard, file: *mut ffi::sqlite3_file, lower_read: Read, buf: *mut c_void, amt: c_int) -> c_int {
    // SAFETY: reading into SQLite's own buffer of `amt` bytes through the lower method.
    unsafe {
        let rc = lower_read(file, buf, amt, 0);
        let bytes = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
        g.on_disk = if rc == ffi::SQLITE_OK { header_seen(0, bytes).or(g.on_disk) } else { None };
        rc
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = guard(file);
        let Some(f) = (*g.lower_methods).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if offset > READ_VERSION_OFFSET as i64 {
            return f(file, buf, amt, offset); // the hot path: any page but page 1, a tail call
        }
        if offset == 0 && rewrites_same_format(g.on_disk, slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize)) {
            // Page 1 of a commit that keeps the journal format (every rollback-mode commit,
            // every checkpoint of page 1): nothing to decide, and the byte on disk is the same
            // whether the write succeeds, fails or tears, so what is remembered stays true.
            return f(file, buf, amt, offset);
        }
        write_header(g, file, f, buf, amt, offset)
    }
}

/// Does writing `page` at offset 0 leave the header saying what it says on disk, known to be
/// rollback or WAL?
#[inline(always)]
fn rewrites_same_format(on_disk: Option<HeaderFormat>, page: &[u8]) -> bool {
    matches!(on_disk, Some(HeaderFormat::Rollback | HeaderFormat::Wal)) && header_seen(0, page) == on_disk
}

type Write = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, ffi::sqlite3_int64) -> c_int;

/// A write that may cover the header's read version (page 1): check it, write it, remember
/// what the header now says.
///
/// # Safety
/// As [`write`]; `lower_write` is the lower xWrite of `file`.
#[inline(never)]
unsafe fn write_header(g: &mut Guard, file: *mut ffi::sqlite3_file, lower_write: Write, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    // SAFETY: SQLite's buffer holds `amt` bytes.
    let data = unsafe { slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize) };
    let seen = header_seen(offset, data);
    if let Some(read_version) = written_read_version(offset, data) {
        let written = seen.unwrap_or(HeaderFormat::from_read_version(read_version));
        if g.header_write_needs_check(written) {
            if let Err(rc) = g.check_header_write(offset, data, written) {
                return rc;
            }
        }
    }
    // SAFETY: writing SQLite's own buffer through the lower method.
    let rc = unsafe { lower_write(file, buf, amt, offset) };
    g.on_disk = if rc == ffi::SQLITE_OK { seen } else { None };
    rc
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        match op {
            ffi::SQLITE_FCNTL_PRAGMA | ffi::SQLITE_FCNTL_VFSNAME | ffi::SQLITE_FCNTL_COMMIT_PHASETWO => {
                intercepted_file_control(guard(file), op, arg)
            }
            _ => guard(file).file_control(op, arg), // the hot path: a tail call
        }
    }
}

/// The file-controls walguard answers or watches.
///
/// # Safety
/// As [`file_control`].
#[inline(never)]
unsafe fn intercepted_file_control(g: &mut Guard, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        match op {
            ffi::SQLITE_FCNTL_PRAGMA => {
                if let Some(rc) = g.pragma(arg.cast()) {
                    return rc;
                }
            }
            ffi::SQLITE_FCNTL_VFSNAME => return g.vfs_name(arg.cast()),
            _ => g.committed(),
        }
        g.file_control(op, arg)
    }
}
