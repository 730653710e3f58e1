//! The layout of a file walguard opens itself, and the io methods that only forward.
//!
//! As in SQLite's cksumvfs.c and vfsstat.c, the `sqlite3_file` SQLite allocates for the
//! walguard VFS (`szOsFile` = [`LOWER_OFFSET`] + the lower VFS's) starts with walguard's
//! struct, whose first field is SQLite's `sqlite3_file`, and the lower VFS's file follows it.
//! walguard finds its state from the file pointer SQLite passes, never through `pMethods`: a
//! layer above that replaces `pMethods` with a copy of walguard's table (PROJ, used by
//! SpatiaLite, does exactly that) still reaches the same state, and walguard never frees a
//! table it did not allocate (its table lives inside the file).
//!
//! Every io method of such a file is walguard's: the ones here forward to the lower file, the
//! guarded ones live in `file.rs` (database files) and `wal_file.rs` (WAL files). A table
//! presents the lower file's `iVersion` and only the optional methods the lower file has.

use std::ffi::{c_int, c_void};

use libsqlite3_sys as ffi;

/// The first fields of every file walguard opens itself (`#[repr(C)]`, first in each struct).
#[repr(C)]
pub struct Shim {
    /// SQLite's view of the file: `pMethods` points at `methods`.
    pub base: ffi::sqlite3_file,
    pub methods: ffi::sqlite3_io_methods,
    /// The lower VFS's file, in the same allocation at [`LOWER_OFFSET`], and its table.
    pub lower: *mut ffi::sqlite3_file,
    pub lower_methods: *const ffi::sqlite3_io_methods,
}

/// Where the lower file starts in a file walguard opened: after the largest of walguard's
/// structs, 8-byte aligned (SQLite's allocations are).
pub const LOWER_OFFSET: usize = {
    let largest = if size_of::<crate::file::DbFile>() > size_of::<crate::wal_file::WalFile>() {
        size_of::<crate::file::DbFile>()
    } else {
        size_of::<crate::wal_file::WalFile>()
    };
    largest.next_multiple_of(8)
};

/// The lower file inside the allocation SQLite made for `file`.
///
/// # Safety
/// `file` is an allocation of the walguard VFS's `szOsFile` bytes.
pub unsafe fn lower_file(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: the allocation holds LOWER_OFFSET bytes of walguard's struct, then the lower file.
    unsafe { file.cast::<u8>().add(LOWER_OFFSET).cast() }
}

/// The shim of a file walguard opened.
///
/// # Safety
/// `file` is open through the walguard VFS with one of the tables built by [`methods`] (or a
/// copy of one): its allocation starts with a [`Shim`].
unsafe fn shim<'a>(file: *mut ffi::sqlite3_file) -> &'a Shim {
    // SAFETY: as the caller vouches.
    unsafe { &*file.cast::<Shim>() }
}

/// A table over `lower` for a file walguard opened: every method forwards to the lower file,
/// except the ones `guarded` replaces.
pub fn methods(lower: &ffi::sqlite3_io_methods, guarded: impl FnOnce(&mut ffi::sqlite3_io_methods)) -> ffi::sqlite3_io_methods {
    let mut table = ffi::sqlite3_io_methods {
        iVersion: lower.iVersion,
        xClose: lower.xClose.and(Some(close)),
        xRead: lower.xRead.and(Some(read)),
        xWrite: lower.xWrite.and(Some(write)),
        xTruncate: lower.xTruncate.and(Some(truncate)),
        xSync: lower.xSync.and(Some(sync)),
        xFileSize: lower.xFileSize.and(Some(file_size)),
        xLock: lower.xLock.and(Some(lock)),
        xUnlock: lower.xUnlock.and(Some(unlock)),
        xCheckReservedLock: lower.xCheckReservedLock.and(Some(check_reserved_lock)),
        xFileControl: lower.xFileControl.and(Some(file_control)),
        xSectorSize: lower.xSectorSize.and(Some(sector_size)),
        xDeviceCharacteristics: lower.xDeviceCharacteristics.and(Some(device_characteristics)),
        xShmMap: None,
        xShmLock: None,
        xShmBarrier: None,
        xShmUnmap: None,
        xFetch: None,
        xUnfetch: None,
    };
    if lower.iVersion >= 2 {
        table.xShmMap = lower.xShmMap.and(Some(shm_map));
        table.xShmLock = lower.xShmLock.and(Some(shm_lock));
        table.xShmBarrier = lower.xShmBarrier.and(Some(shm_barrier));
        table.xShmUnmap = lower.xShmUnmap.and(Some(shm_unmap));
    }
    if lower.iVersion >= 3 {
        table.xFetch = lower.xFetch.and(Some(fetch));
        table.xUnfetch = lower.xUnfetch.and(Some(unfetch));
    }
    guarded(&mut table);
    table
}

// The forwarding methods. Each is installed only where the lower table has the method (see
// `methods`), so the `else` arms are unreachable in practice; they answer an error (or do
// nothing) rather than panic across the FFI boundary.

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xClose.map_or(ffi::SQLITE_OK, |f| f(s.lower))
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xRead.map_or(ffi::SQLITE_IOERR_READ, |f| f(s.lower, buf, amt, offset))
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |f| f(s.lower, buf, amt, offset))
    }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xTruncate.map_or(ffi::SQLITE_IOERR_TRUNCATE, |f| f(s.lower, size))
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |f| f(s.lower, flags))
    }
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xFileSize.map_or(ffi::SQLITE_IOERR_FSTAT, |f| f(s.lower, size))
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xLock.map_or(ffi::SQLITE_IOERR_LOCK, |f| f(s.lower, level))
    }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xUnlock.map_or(ffi::SQLITE_IOERR_UNLOCK, |f| f(s.lower, level))
    }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xCheckReservedLock.map_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, |f| f(s.lower, out))
    }
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xFileControl.map_or(ffi::SQLITE_NOTFOUND, |f| f(s.lower, op, arg))
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xSectorSize.map_or(4096, |f| f(s.lower))
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xDeviceCharacteristics.map_or(0, |f| f(s.lower))
    }
}

unsafe extern "C" fn shm_map(file: *mut ffi::sqlite3_file, region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |f| f(s.lower, region, size, extend, out))
    }
}

unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xShmLock.map_or(ffi::SQLITE_IOERR_SHMLOCK, |f| f(s.lower, offset, n, flags))
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        if let Some(f) = (*s.lower_methods).xShmBarrier {
            f(s.lower);
        }
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xShmUnmap.map_or(ffi::SQLITE_OK, |f| f(s.lower, delete))
    }
}

unsafe extern "C" fn fetch(file: *mut ffi::sqlite3_file, offset: ffi::sqlite3_int64, amt: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        match (*s.lower_methods).xFetch {
            Some(f) => f(s.lower, offset, amt, out),
            None => {
                *out = std::ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    }
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: ffi::sqlite3_int64, page: *mut c_void) -> c_int {
    // SAFETY: SQLite's own arguments, forwarded to the lower file.
    unsafe {
        let s = shim(file);
        (*s.lower_methods).xUnfetch.map_or(ffi::SQLITE_OK, |f| f(s.lower, offset, page))
    }
}
