//! WAL files of guarded databases: every page-1 frame written to them is checked (layer 2).
//!
//! A WAL opened through the walguard VFS whose database walguard opened itself is a [`WalFile`]
//! (the layout of `shim.rs`). It finds its database's guard through
//! `sqlite3_database_file_object`, as SQLite's cksumvfs.c does, and keeps a pointer to it:
//! SQLite closes a database's WAL before the database file (`sqlite3PagerClose`), so the
//! pointer never dangles. Any other WAL (its database adopted at load, or opened through
//! another VFS) belongs to the lower VFS alone; the database-file rule still refuses any
//! checkpoint of a page 1 that leaves WAL from it.
//!
//! Only `xWrite` is guarded; every other method forwards (`shim.rs`).

use std::ffi::{c_char, c_int, c_void};
use std::{ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::wal::{FrameTracker, Probe, WAL_HEADER_LEN};

use crate::file;
use crate::guard::Guard;
use crate::shim::{self, Shim};

/// A WAL file of a guarded database.
#[repr(C)]
pub struct WalFile {
    shim: Shim,
    /// The guard of the database this WAL belongs to.
    db: *mut Guard,
    frames: FrameTracker,
}

/// Open a WAL file through the lower VFS, and check its page-1 frames when its database is
/// guarded by this copy of walguard.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen` for a file with `SQLITE_OPEN_WAL`; `file` is an
/// allocation of the walguard VFS's `szOsFile` bytes; `name` is the WAL name SQLite derived from
/// its database's (what `sqlite3_database_file_object` needs).
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: as the caller vouches. As in cksumvfs.c, a failed open leaves pMethods null.
    unsafe {
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        let Some(db) = file::owned_guard(ffi::sqlite3_database_file_object(name)) else {
            // Not a database walguard opened: the lower VFS owns the WAL outright.
            return lower_open(lower_vfs, name, file, flags, out_flags);
        };
        (*file).pMethods = ptr::null();
        let lower = shim::lower_file(file);
        let rc = lower_open(lower_vfs, name, lower, flags, out_flags);
        let lower_methods = (*lower).pMethods;
        if rc != ffi::SQLITE_OK || lower_methods.is_null() {
            return rc;
        }
        let methods = shim::methods(&*lower_methods, |table| table.xWrite = Some(write));
        let wal = file.cast::<WalFile>();
        ptr::write(
            wal,
            WalFile {
                shim: Shim { base: ffi::sqlite3_file { pMethods: ptr::null() }, methods, lower, lower_methods },
                db,
                frames: FrameTracker::default(),
            },
        );
        (*file).pMethods = &raw const (*wal).shim.methods;
        rc
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes; `file` is a WalFile (its table is only
    // installed by `open`, and found through the file pointer).
    unsafe {
        let wal = &mut *file.cast::<WalFile>();
        let Some(f) = (*wal.shim.lower_methods).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if wal.frames.routine(offset, slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize)) {
            return f(wal.shim.lower, buf, amt, offset); // the hot path: every append of a routine frame
        }
        write_any(wal, f, buf, amt, offset)
    }
}

type Write = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, ffi::sqlite3_int64) -> c_int;

/// Every WAL write that is not a routine append.
///
/// # Safety
/// As [`write`]; `lower_write` is the lower xWrite.
#[inline(never)]
unsafe fn write_any(wal: &mut WalFile, lower_write: Write, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    // SAFETY: as the caller vouches.
    unsafe {
        let data = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
        match wal.frames.observe(offset, data) {
            Probe::Nothing => lower_write(wal.shim.lower, buf, amt, offset),
            probe => match check(wal, offset, data, probe) {
                Ok(()) => lower_write(wal.shim.lower, buf, amt, offset),
                Err(rc) => rc,
            },
        }
    }
}

/// A WAL write that puts a page's byte 19: find the page, and check it if it is page 1.
fn check(wal: &mut WalFile, offset: i64, data: &[u8], mut probe: Probe) -> Result<(), c_int> {
    let (lower, lower_methods) = (wal.shim.lower, wal.shim.lower_methods);
    let read = |at: i64, buf: &mut [u8]| -> Result<(), c_int> {
        // SAFETY: a read of the WAL file through its own lower method, into a local buffer.
        let rc = unsafe { (*lower_methods).xRead.ok_or(ffi::SQLITE_IOERR_READ)?(lower, buf.as_mut_ptr().cast(), buf.len() as c_int, at) };
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(rc) }
    };
    if probe == Probe::NeedPageSize {
        let mut header = [0u8; WAL_HEADER_LEN as usize];
        read(0, &mut header)?;
        if !wal.frames.learn(&header) {
            // No valid WAL header on disk: SQLite's recovery would ignore every frame.
            return Ok(());
        }
        probe = wal.frames.observe(offset, data);
    }
    let written = probe.page1_byte(|frame| {
        let mut page_number = [0u8; 4];
        read(frame, &mut page_number).map(|()| u32::from_be_bytes(page_number))
    })?;
    // SAFETY: the database's guard outlives its WAL file; SQLite serialises a connection's
    // calls on its database and WAL files.
    written.map_or(Ok(()), |byte| unsafe { (*wal.db).check_wal_page1(byte) })
}
