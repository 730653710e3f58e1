//! WAL files of guarded databases: every page-1 frame written to them is checked (layer 2).
//!
//! A WAL opened through the walguard VFS whose database walguard opened itself gets a
//! [`WalTail`] after its lower file (`shim.rs`). It finds its database's guard from the WAL's
//! name (`file::guard_of_wal`), not through `sqlite3_database_file_object` (as SQLite's
//! cksumvfs.c does), which walks the memory before the name and crashes when a VFS above
//! walguard passes its own copy of it; and keeps a pointer to it: SQLite closes a database's
//! WAL before the database file (`sqlite3PagerClose`), so the pointer never dangles. Any other WAL (its database adopted at load, or opened through
//! another VFS) belongs to the lower VFS alone; the database-file rule still refuses any
//! checkpoint of a page 1 that leaves WAL from it.
//!
//! Only `xWrite` (and `xClose`) are walguard's; every other entry of the table is the lower
//! function itself.

use std::ffi::{c_char, c_int, c_void};
use std::{ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::wal::{FrameTracker, Probe, WAL_HEADER_LEN};

use crate::file;
use crate::guard::Guard;
use crate::shim;

/// Walguard's struct after the lower file of a guarded database's WAL.
pub struct WalTail {
    methods: ffi::sqlite3_io_methods,
    lower_methods: *const ffi::sqlite3_io_methods,
    /// The guard of the database this WAL belongs to.
    db: *mut Guard,
    frames: FrameTracker,
}

/// Open a WAL file through the lower VFS, and check its page-1 frames when its database is
/// guarded by this copy of walguard.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen` for a file with `SQLITE_OPEN_WAL`; `file` is an
/// allocation of the walguard VFS's `szOsFile` bytes (`shim::os_file_size`); `name` is the WAL
/// name SQLite passes, or a copy of it made by a VFS above walguard.
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: `lower_vfs` is the registered VFS walguard wraps.
    let Some(lower_open) = (unsafe { (*lower_vfs).xOpen }) else { return ffi::SQLITE_CANTOPEN };
    // SAFETY: SQLite's own arguments, passed on; a failed lower open is SQLite's to close, as
    // without walguard.
    let rc = unsafe { lower_open(lower_vfs, name, file, flags, out_flags) };
    // SAFETY: the lower xOpen has set pMethods (null when nothing is open), a valid table if set.
    let lower_methods = unsafe { (*file).pMethods };
    if rc != ffi::SQLITE_OK || lower_methods.is_null() {
        return rc;
    }
    // SAFETY: the lower file's table, non-null.
    if !file::KNOWN_VERSIONS.contains(&unsafe { (*lower_methods).iVersion }) {
        return rc;
    }
    let Some(db) = file::guard_of_wal(name) else {
        return rc; // not a database walguard opened: the lower VFS owns the WAL outright
    };
    // SAFETY: checked non-null and of a known version above.
    let methods = ffi::sqlite3_io_methods { xClose: Some(close), xWrite: Some(write), ..unsafe { *lower_methods } };
    // SAFETY: `file` has the walguard VFS's szOsFile bytes, so the tail after the lower file is
    // in bounds, aligned and unused (`shim::tail`); SQLite reads pMethods only after xOpen
    // returns, when it points at the table inside the tail, which lives until xClose.
    unsafe {
        let tail = shim::tail::<WalTail>(file);
        ptr::write(tail, WalTail { methods, lower_methods, db, frames: FrameTracker::default() });
        (*file).pMethods = &raw const (*tail).methods;
    }
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the WalTail (plain data) is left in SQLite's memory.
    unsafe {
        let lower = (*shim::tail::<WalTail>(file)).lower_methods;
        (*file).pMethods = lower;
        (*lower).xClose.map_or(ffi::SQLITE_OK, |f| f(file))
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes; `file` has a WalTail (this method is
    // only installed by `open`, and the tail is found through the file pointer).
    unsafe {
        let wal = &mut *shim::tail::<WalTail>(file);
        let Some(f) = (*wal.lower_methods).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if wal.frames.routine(offset, slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize)) {
            return f(file, buf, amt, offset); // the hot path: every append of a routine frame
        }
        write_any(wal, file, f, buf, amt, offset)
    }
}

type Write = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, ffi::sqlite3_int64) -> c_int;

/// Every WAL write that is not a routine append.
///
/// # Safety
/// As [`write`]; `wal` is `file`'s tail; `lower_write` is the lower xWrite.
#[inline(never)]
unsafe fn write_any(
    wal: &mut WalTail,
    file: *mut ffi::sqlite3_file,
    lower_write: Write,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: as the caller vouches.
    unsafe {
        let data = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
        match wal.frames.observe(offset, data) {
            Probe::Nothing => lower_write(file, buf, amt, offset),
            probe => match check(wal, file, offset, data, probe) {
                Ok(()) => lower_write(file, buf, amt, offset),
                Err(rc) => rc,
            },
        }
    }
}

/// A WAL write that puts a page's byte 19: find the page, and check it if it is page 1.
fn check(wal: &mut WalTail, file: *mut ffi::sqlite3_file, offset: i64, data: &[u8], mut probe: Probe) -> Result<(), c_int> {
    let (lower, lower_methods) = (file, wal.lower_methods);
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
