//! The io methods of guarded main database files, of two kinds:
//!
//! - [`Wrapped`]: opened through the walguard VFS. SQLite's `sqlite3_file` is a `Wrapped`
//!   followed in memory by the lower VFS's own file (the cksumvfs layout).
//! - [`Adopted`]: opened before walguard was loaded, by the connection that loads it. The
//!   file cannot grow, so its `pMethods` is pointed at a heap block holding walguard's
//!   io-methods table followed by the guard, which keeps the original table. Closing the file
//!   puts the original table back and frees the block.
//!
//! The io methods are written once, generic over the kind; each only finds its [`Guard`]
//! differently. They forward every call to the lower methods, presenting the lower table's
//! `iVersion` (so `xShm*` and `xFetch`/`xUnfetch` exist exactly when they exist below).

use std::ffi::{c_char, c_int, c_void};
use std::{mem, ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::Policy;
use walguard_core::header::{HEADER_LEN, READ_VERSION_OFFSET, written_read_version};

use crate::config;
use crate::guard::{Guard, header_seen};
use crate::sqlite;

/// How an io method finds the guard of the file it is called on.
trait Kind {
    /// # Safety
    /// `file` is an open file of this kind; SQLite serialises calls on one file.
    unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Guard;

    /// Close the lower file and release walguard's part.
    ///
    /// # Safety
    /// `file` is an open file of this kind, closed once.
    unsafe fn close(file: *mut ffi::sqlite3_file) -> c_int;
}

/// A file opened through the walguard VFS: this struct, then the lower file.
#[repr(C)]
pub struct Wrapped {
    /// Must come first: SQLite sees this struct as a `sqlite3_file`.
    base: ffi::sqlite3_file,
    guard: Guard,
}

/// Bytes walguard adds in front of the lower file (a multiple of 8, so the lower file is
/// as aligned as SQLite's own allocation).
pub const HEADER_SIZE: c_int = (mem::size_of::<Wrapped>().next_multiple_of(8)) as c_int;

impl Kind for Wrapped {
    unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Guard {
        // SAFETY: a Wrapped file starts with a live Wrapped (set up by `open`).
        unsafe { &mut (*file.cast::<Wrapped>()).guard }
    }

    unsafe fn close(file: *mut ffi::sqlite3_file) -> c_int {
        // SAFETY: the Wrapped owns no heap memory; only the lower file needs closing.
        unsafe {
            let g = Self::guard(file);
            (*g.lower_methods).xClose.map_or(ffi::SQLITE_OK, |f| f(g.lower))
        }
    }
}

/// The heap block an adopted file's `pMethods` points to.
#[repr(C)]
struct Adopted {
    /// Must come first: `pMethods` points here.
    methods: ffi::sqlite3_io_methods,
    guard: Guard,
}

impl Kind for Adopted {
    unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Guard {
        // SAFETY: an adopted file's pMethods is the first field of its live Adopted block.
        unsafe { &mut (*(*file).pMethods.cast::<Adopted>().cast_mut()).guard }
    }

    unsafe fn close(file: *mut ffi::sqlite3_file) -> c_int {
        // SAFETY: the block was leaked by `adopt` and is reclaimed exactly once, here, after
        // the original table is back in place.
        unsafe {
            let adopted = Box::from_raw((*file).pMethods.cast::<Adopted>().cast_mut());
            (*file).pMethods = adopted.guard.lower_methods;
            (*adopted.guard.lower_methods).xClose.map_or(ffi::SQLITE_OK, |f| f(file))
        }
    }
}

/// Open a main database file through the lower VFS and guard it.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen`; `out` has room for the walguard VFS's szOsFile.
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    out: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: `out` spans HEADER_SIZE + the lower szOsFile bytes (our szOsFile); `name` is a
    // database filename SQLite keeps valid until xClose.
    unsafe {
        (*out).pMethods = ptr::null();
        let lower = out.cast::<u8>().add(HEADER_SIZE as usize).cast::<ffi::sqlite3_file>();
        let policy = match policy_from_uri(name) {
            Ok(policy) => policy,
            Err(message) => {
                sqlite::log(ffi::SQLITE_CANTOPEN, &message);
                return ffi::SQLITE_CANTOPEN;
            }
        };
        if policy == Policy::Off {
            let path = String::from_utf8_lossy(sqlite::bytes(name).unwrap_or_default());
            sqlite::log(ffi::SQLITE_NOTICE, &format!("walguard: guard off (URI parameter walguard=off): '{path}'"));
        }
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        (*lower).pMethods = ptr::null();
        let rc = lower_open(lower_vfs, name, lower, flags, out_flags);
        let methods = (*lower).pMethods;
        if rc != ffi::SQLITE_OK {
            // A lower file that set pMethods expects xClose even after a failed open.
            if let Some(close) = methods.as_ref().and_then(|m| m.xClose) {
                close(lower);
            }
            return rc;
        }
        let Some(version) = methods.as_ref().map(|m| m.iVersion) else { return ffi::SQLITE_CANTOPEN };
        ptr::write(
            out.cast::<Wrapped>(),
            Wrapped {
                base: ffi::sqlite3_file { pMethods: wrapped_methods(version) },
                guard: Guard::new(lower, methods, lower_vfs, name, policy),
            },
        );
        ffi::SQLITE_OK
    }
}

/// Why an open file could not be adopted.
pub enum NotAdopted {
    /// Already guarded (opened through walguard, or adopted before).
    AlreadyGuarded,
    /// Its io methods have a version walguard cannot present faithfully.
    UnknownVersion(c_int),
    /// Its `walguard` URI parameter is not a policy (the message says so).
    InvalidPolicy(String),
}

/// Guard a file that is already open, from now on: point its `pMethods` at a walguard table
/// that keeps the original one. `in_write_transaction` tells whether the connection is in
/// the middle of a write transaction, whose rollback must never be refused.
///
/// # Safety
/// `file` is an open main database file of a connection whose mutex the caller holds (no
/// call on the file is in progress); `vfs` opened it; `path` stays valid until it is closed.
pub unsafe fn adopt(
    file: *mut ffi::sqlite3_file,
    vfs: *mut ffi::sqlite3_vfs,
    path: *const c_char,
    in_write_transaction: bool,
) -> Result<Policy, NotAdopted> {
    // SAFETY: the caller vouches that `file` is open, so pMethods is a valid table.
    let original = unsafe { (*file).pMethods };
    // SAFETY: as above.
    let version = unsafe { (*original).iVersion };
    if is_walguard_table(original) {
        return Err(NotAdopted::AlreadyGuarded);
    }
    if !(1..=3).contains(&version) {
        return Err(NotAdopted::UnknownVersion(version));
    }
    // SAFETY: the caller vouches for `path`, a database filename as xOpen received it.
    let policy = unsafe { policy_from_uri(path) }.map_err(NotAdopted::InvalidPolicy)?;
    let mut guard = Guard::new(file, original, vfs, path, policy);
    // A transaction already under way may have switched the header to WAL; its rollback
    // must go through. No downgrade can happen inside a transaction (SQLite refuses to
    // leave WAL or VACUUM there), so this allows nothing else.
    guard.uncommitted_switch = in_write_transaction;
    let block = Box::new(Adopted { methods: methods_for::<Adopted>(version), guard });
    // SAFETY: the caller holds the connection's mutex, so nothing uses the table while it
    // is swapped; the block lives until Adopted::close reclaims it.
    unsafe { (*file).pMethods = &Box::leak(block).methods };
    Ok(policy)
}

/// Is `table` one of walguard's io-methods tables (either kind)?
fn is_walguard_table(table: *const ffi::sqlite3_io_methods) -> bool {
    type Close = unsafe extern "C" fn(*mut ffi::sqlite3_file) -> c_int;
    // SAFETY: `table` is a valid io-methods table.
    let close: Option<Close> = unsafe { (*table).xClose };
    let ours: [Close; 2] = [close_file::<Wrapped>, close_file::<Adopted>];
    close.is_some_and(|f| ours.iter().any(|&o| ptr::fn_addr_eq(f, o)))
}

/// The policy for one file: the `walguard` URI parameter, or the process default.
///
/// # Safety
/// `name` is a filename SQLite passed to `xOpen`.
unsafe fn policy_from_uri(name: *const c_char) -> Result<Policy, String> {
    // SAFETY: sqlite3_uri_parameter accepts any xOpen filename and returns null or a string
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

/// The table for wrapped files with the same `iVersion` as the lower file's.
fn wrapped_methods(version: c_int) -> *const ffi::sqlite3_io_methods {
    static TABLES: [ffi::sqlite3_io_methods; 3] =
        [methods_for::<Wrapped>(1), methods_for::<Wrapped>(2), methods_for::<Wrapped>(3)];
    &TABLES[(version.clamp(1, 3) - 1) as usize]
}

/// walguard's io-methods table of a given version: a version-1 file must not appear to
/// support shared memory, a version-2 one must not appear to map pages.
const fn methods_for<K: Kind>(version: c_int) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: version,
        xClose: Some(close_file::<K>),
        xRead: Some(read::<K>),
        xWrite: Some(write::<K>),
        xTruncate: Some(truncate::<K>),
        xSync: Some(sync::<K>),
        xFileSize: Some(file_size::<K>),
        xLock: Some(lock::<K>),
        xUnlock: Some(unlock::<K>),
        xCheckReservedLock: Some(check_reserved_lock::<K>),
        xFileControl: Some(file_control::<K>),
        xSectorSize: Some(sector_size::<K>),
        xDeviceCharacteristics: Some(device_characteristics::<K>),
        xShmMap: if version >= 2 { Some(shm_map::<K>) } else { None },
        xShmLock: if version >= 2 { Some(shm_lock::<K>) } else { None },
        xShmBarrier: if version >= 2 { Some(shm_barrier::<K>) } else { None },
        xShmUnmap: if version >= 2 { Some(shm_unmap::<K>) } else { None },
        xFetch: if version >= 3 { Some(fetch::<K>) } else { None },
        xUnfetch: if version >= 3 { Some(unfetch::<K>) } else { None },
    }
}

// The io methods. Lower methods exist for the lower table's iVersion (we present the same
// one), so the `else` arms are unreachable in practice; they return an error rather than
// panic across the FFI boundary.

unsafe extern "C" fn close_file<K: Kind>(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once.
    unsafe { K::close(file) }
}

unsafe extern "C" fn read<K: Kind>(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xRead else { return ffi::SQLITE_IOERR_READ };
        let rc = f(g.lower, buf, amt, offset);
        if offset == 0 {
            let seen = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
            g.on_disk = if rc == ffi::SQLITE_OK { header_seen(offset, seen).or(g.on_disk) } else { None };
        }
        rc
    }
}

unsafe extern "C" fn write<K: Kind>(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if offset > READ_VERSION_OFFSET as i64 {
            return f(g.lower, buf, amt, offset); // the hot path: any page but page 1
        }
        let data = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
        let Some(read_version) = written_read_version(offset, data) else { return f(g.lower, buf, amt, offset) };
        if let Err(rc) = g.check_header_write(offset, data, read_version) {
            return rc;
        }
        let rc = f(g.lower, buf, amt, offset);
        g.on_disk = if rc == ffi::SQLITE_OK { header_seen(offset, data) } else { None };
        rc
    }
}

unsafe extern "C" fn truncate<K: Kind>(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        if size < HEADER_LEN as i64 {
            g.on_disk = None;
        }
        let Some(f) = (*g.lower_methods).xTruncate else { return ffi::SQLITE_IOERR_TRUNCATE };
        f(g.lower, size)
    }
}

unsafe extern "C" fn sync<K: Kind>(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xSync else { return ffi::SQLITE_IOERR_FSYNC };
        f(g.lower, flags)
    }
}

unsafe extern "C" fn file_size<K: Kind>(file: *mut ffi::sqlite3_file, out: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xFileSize else { return ffi::SQLITE_IOERR_FSTAT };
        f(g.lower, out)
    }
}

unsafe extern "C" fn lock<K: Kind>(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xLock else { return ffi::SQLITE_IOERR_LOCK };
        f(g.lower, level)
    }
}

unsafe extern "C" fn unlock<K: Kind>(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        if level <= ffi::SQLITE_LOCK_SHARED {
            g.uncommitted_switch = false; // the transaction is over, one way or the other
        }
        let Some(f) = (*g.lower_methods).xUnlock else { return ffi::SQLITE_IOERR_UNLOCK };
        f(g.lower, level)
    }
}

unsafe extern "C" fn check_reserved_lock<K: Kind>(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xCheckReservedLock else { return ffi::SQLITE_IOERR_CHECKRESERVEDLOCK };
        f(g.lower, out)
    }
}

unsafe extern "C" fn file_control<K: Kind>(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        let g = K::guard(file);
        match op {
            ffi::SQLITE_FCNTL_PRAGMA => {
                if let Some(rc) = g.pragma(arg.cast()) {
                    return rc;
                }
            }
            ffi::SQLITE_FCNTL_VFSNAME => return g.vfs_name(arg.cast()),
            ffi::SQLITE_FCNTL_COMMIT_PHASETWO => {
                g.uncommitted_switch = false;
                g.downgrade_reported = false;
            }
            _ => {}
        }
        g.file_control(op, arg)
    }
}

unsafe extern "C" fn sector_size<K: Kind>(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        (*g.lower_methods).xSectorSize.map_or(4096, |f| f(g.lower))
    }
}

unsafe extern "C" fn device_characteristics<K: Kind>(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        (*g.lower_methods).xDeviceCharacteristics.map_or(0, |f| f(g.lower))
    }
}

unsafe extern "C" fn shm_map<K: Kind>(file: *mut ffi::sqlite3_file, region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xShmMap else { return ffi::SQLITE_IOERR_SHMMAP };
        f(g.lower, region, size, extend, out)
    }
}

unsafe extern "C" fn shm_lock<K: Kind>(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xShmLock else { return ffi::SQLITE_IOERR_SHMLOCK };
        f(g.lower, offset, n, flags)
    }
}

unsafe extern "C" fn shm_barrier<K: Kind>(file: *mut ffi::sqlite3_file) {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        if let Some(f) = (*g.lower_methods).xShmBarrier {
            f(g.lower);
        }
    }
}

unsafe extern "C" fn shm_unmap<K: Kind>(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xShmUnmap else { return ffi::SQLITE_OK };
        f(g.lower, delete)
    }
}

unsafe extern "C" fn fetch<K: Kind>(file: *mut ffi::sqlite3_file, offset: ffi::sqlite3_int64, amt: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: forwarding to the lower file. Mapped pages are only ever read; every write,
    // page 1's included, goes through xWrite.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xFetch else {
            *out = ptr::null_mut();
            return ffi::SQLITE_OK;
        };
        f(g.lower, offset, amt, out)
    }
}

unsafe extern "C" fn unfetch<K: Kind>(file: *mut ffi::sqlite3_file, offset: ffi::sqlite3_int64, page: *mut c_void) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = K::guard(file);
        let Some(f) = (*g.lower_methods).xUnfetch else { return ffi::SQLITE_OK };
        f(g.lower, offset, page)
    }
}
