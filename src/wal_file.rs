//! WAL files of guarded databases: every page-1 frame written to them is checked (layer 2).
//!
//! A WAL opened through the walguard VFS whose database walguard opened itself gets a
//! [`WalTail`] after its lower file (`shim.rs`). It finds its database's guard from the WAL's
//! name (`file::guard_of`), not through `sqlite3_database_file_object` (as SQLite's
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
use crate::lower::{self, LowerFile};
use crate::shim;

/// Walguard's struct after the lower file of a guarded database's WAL.
pub struct WalTail {
    methods: ffi::sqlite3_io_methods,
    lower: LowerFile,
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
    // SAFETY: as the caller vouches.
    let lower_methods = match unsafe { lower::open(lower_vfs, name, file, flags, out_flags) } {
        Ok(table) => table,
        Err(rc) => return rc,
    };
    // SAFETY: the lower file's table, non-null.
    if !file::KNOWN_VERSIONS.contains(&unsafe { (*lower_methods).iVersion }) {
        return ffi::SQLITE_OK;
    }
    // SAFETY: SQLite passes the name NUL-terminated.
    let Some(db) = (unsafe { file::guard_of(name, file::Companion::Wal) }) else {
        return ffi::SQLITE_OK; // not a database walguard opened: the lower VFS owns the WAL outright
    };
    // SAFETY: a registered guard lives until its database closes, after its WAL; SQLite
    // serialises the pager's calls.
    unsafe { (*db).wal_opened() };
    // SAFETY: checked non-null and of a known version above.
    let methods = ffi::sqlite3_io_methods { xClose: Some(close), xWrite: Some(write), ..unsafe { *lower_methods } };
    // SAFETY: `file` has the walguard VFS's szOsFile bytes, so the tail after the lower file is
    // in bounds, aligned and unused (`shim::tail`); SQLite reads pMethods only after xOpen
    // returns, when it points at the table inside the tail, which lives until xClose.
    unsafe {
        let tail = shim::tail::<WalTail>(file);
        // (The lower table is the open file's, checked non-null above; the tail dies at xClose.)
        let lower = LowerFile::new(file, lower_methods);
        ptr::write(tail, WalTail { methods, lower, db, frames: FrameTracker::default() });
        (*file).pMethods = &raw const (*tail).methods;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the WalTail (plain data) is left in SQLite's memory.
    unsafe {
        let lower = (*shim::tail::<WalTail>(file)).lower;
        (*file).pMethods = lower.table();
        lower.methods().xClose.map_or(ffi::SQLITE_OK, |f| f(file))
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes; `file` has a WalTail (this method is
    // only installed by `open`, and the tail is found through the file pointer).
    unsafe {
        let wal = &mut *shim::tail::<WalTail>(file);
        let Some(f) = wal.lower.methods().xWrite else { return ffi::SQLITE_IOERR_WRITE };
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
            probe => match check(wal, offset, data, probe) {
                Ok(()) => lower_write(file, buf, amt, offset),
                Err(rc) => rc,
            },
        }
    }
}

/// A WAL write whose frame could not be read back: failed, and said (`Guard::unchecked`).
fn unchecked(wal: &WalTail, rc: c_int) -> c_int {
    // SAFETY: the database's guard outlives its WAL file.
    unsafe { (*wal.db).unchecked("a WAL write", rc) }
}

/// A WAL write that puts a page's byte 19: find the page, and check it if it is page 1.
fn check(wal: &mut WalTail, offset: i64, data: &[u8], mut probe: Probe) -> Result<(), c_int> {
    let lower = wal.lower;
    let read = |at: i64, buf: &mut [u8]| -> Result<(), c_int> {
        match lower.read_at(buf, at) {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(rc),
        }
    };
    if probe == Probe::NeedPageSize {
        let mut header = [0u8; WAL_HEADER_LEN as usize];
        read(0, &mut header).map_err(|rc| unchecked(wal, rc))?;
        if !wal.frames.learn(&header) {
            // No valid WAL header on disk: SQLite's recovery would ignore every frame.
            return Ok(());
        }
        probe = wal.frames.observe(offset, data);
    }
    let written = probe
        .page1_byte(|frame| {
            let mut page_number = [0u8; 4];
            read(frame, &mut page_number).map(|()| u32::from_be_bytes(page_number))
        })
        .map_err(|rc| unchecked(wal, rc))?;
    // SAFETY: the database's guard outlives its WAL file; SQLite serialises a connection's
    // calls on its database and WAL files.
    written.map_or(Ok(()), |byte| unsafe { (*wal.db).check_wal_page1(byte) })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use walguard_core::wal::FRAME_HEADER_LEN;

    use super::*;
    use crate::testing::{self, Names, Open, PAGE, page1, take_log};

    const DB_FLAGS: c_int = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;
    const WAL_FLAGS: c_int = ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;
    const FRAME: i64 = FRAME_HEADER_LEN + PAGE as i64;

    fn wal_header() -> Vec<u8> {
        let mut header = vec![0; WAL_HEADER_LEN as usize];
        header[..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
        header[4..8].copy_from_slice(&3_007_000u32.to_be_bytes());
        header[8..12].copy_from_slice(&(PAGE as u32).to_be_bytes());
        header
    }

    fn frame_header(page_number: u32) -> Vec<u8> {
        let mut header = vec![0; FRAME_HEADER_LEN as usize];
        header[..4].copy_from_slice(&page_number.to_be_bytes());
        header
    }

    fn frame_at(index: i64) -> i64 {
        WAL_HEADER_LEN + index * FRAME
    }

    /// A guarded database in WAL mode, opened through walguard.
    fn wal_database(names: &Names) -> Open {
        // SAFETY: `names` outlives the file.
        let db = unsafe { Open::new(names.db(), DB_FLAGS) };
        assert_eq!(db.rc, ffi::SQLITE_OK);
        assert_eq!(db.write(0, &page1(2)), ffi::SQLITE_OK);
        assert_eq!(db.unlock(ffi::SQLITE_LOCK_NONE), ffi::SQLITE_OK);
        db
    }

    fn in_tail(file: &Open) -> bool {
        let table = file.methods() as *const _ as usize;
        let start = file.memory.ptr as usize;
        (start + shim::tail_offset()..start + file.memory.layout.size()).contains(&table)
    }

    /// Frames written as SQLite writes them (the header, then the page, in two writes); a
    /// page-1 frame that leaves WAL refused; a page rewritten in place, whose page number
    /// walguard reads back from the frame header on disk.
    #[test]
    fn a_wal_opened_through_walguard() {
        let names = Names::new("/mem/frames.db", &[]);
        let db = wal_database(&names);
        // SAFETY: `names` outlives the file; the WAL's name is the one SQLite makes.
        let wal = unsafe { Open::new(names.wal(), WAL_FLAGS) };
        assert_eq!(wal.rc, ffi::SQLITE_OK);
        assert!(in_tail(&wal), "the WAL is guarded, its table in walguard's struct");
        assert_eq!(wal.write(0, &wal_header()), ffi::SQLITE_OK);
        for (index, page_number, page) in [(0, 2, vec![7; PAGE]), (1, 1, page1(2))] {
            assert_eq!(wal.write(frame_at(index), &frame_header(page_number)), ffi::SQLITE_OK);
            assert_eq!(wal.write(frame_at(index) + FRAME_HEADER_LEN, &page), ffi::SQLITE_OK);
        }
        assert_eq!(wal.write(frame_at(2), &frame_header(1)), ffi::SQLITE_OK);
        assert_eq!(wal.write(frame_at(2) + FRAME_HEADER_LEN, &page1(1)), ffi::SQLITE_IOERR_WRITE);
        // Frame 1's page rewritten in place: its page number is on disk only.
        assert_eq!(wal.write(frame_at(1) + FRAME_HEADER_LEN, &page1(1)), ffi::SQLITE_IOERR_WRITE);
        assert_eq!(wal.write(frame_at(1) + FRAME_HEADER_LEN, &page1(2)), ffi::SQLITE_OK);
        // A frame in one write.
        assert_eq!(wal.write(frame_at(2), &[frame_header(1), page1(0)].concat()), ffi::SQLITE_IOERR_WRITE);
        let log = take_log();
        assert!(log.len() == 3 && log.iter().all(|(_, line)| line.contains("a WAL frame whose page 1 leaves WAL")), "{log:?}");
        // SQLite closes the WAL before its database.
        assert_eq!(wal.close(), ffi::SQLITE_OK);
        assert_eq!(db.close(), ffi::SQLITE_OK);
    }

    /// A WAL with frames on disk before it is opened: walguard reads the page size from the
    /// WAL header and the page number from the frame header, through the lower file.
    #[test]
    fn a_wal_reopened_reads_its_geometry_from_disk() {
        let names = Names::new("/mem/reopened.db", &[]);
        let db = wal_database(&names);
        // SAFETY: a NUL-terminated name inside `names`.
        let wal_name = unsafe { CStr::from_ptr(names.wal()) };
        testing::set_file(wal_name, &[wal_header(), frame_header(1), page1(2)].concat());
        // SAFETY: `names` outlives the file.
        let wal = unsafe { Open::new(names.wal(), WAL_FLAGS) };
        assert!(in_tail(&wal));
        assert_eq!(wal.write(frame_at(0) + FRAME_HEADER_LEN, &page1(1)), ffi::SQLITE_IOERR_WRITE);
        assert_eq!(wal.write(frame_at(0) + FRAME_HEADER_LEN, &page1(2)), ffi::SQLITE_OK);
        assert_eq!(take_log().len(), 1);
        assert_eq!(wal.close(), ffi::SQLITE_OK);
        assert_eq!(db.close(), ffi::SQLITE_OK);
    }

    /// A WAL whose database walguard did not open belongs to the lower VFS; so may one whose
    /// name a VFS above walguard copied (walguard reads the copy only up to its NUL).
    #[test]
    fn wals_walguard_cannot_place_are_the_lower_vfs_own() {
        let names = Names::new("/mem/foreign.db", &[]);
        // SAFETY: `names` outlives the file.
        let foreign = unsafe { Open::new(names.wal(), WAL_FLAGS) };
        assert_eq!(foreign.rc, ffi::SQLITE_OK);
        assert!(!in_tail(&foreign), "the lower VFS's own table");
        assert_eq!(foreign.write(0, &wal_header()), ffi::SQLITE_OK);
        assert_eq!(foreign.close(), ffi::SQLITE_OK);

        let names = Names::new("/mem/copied.db", &[]);
        let db = wal_database(&names);
        let copy = CString::new("/mem/copied.db-wal").unwrap();
        // SAFETY: `copy` outlives the file.
        let wal = unsafe { Open::new(copy.as_ptr(), WAL_FLAGS) };
        assert_eq!(wal.rc, ffi::SQLITE_OK);
        assert_eq!(wal.write(0, &wal_header()), ffi::SQLITE_OK);
        assert_eq!(wal.close(), ffi::SQLITE_OK);
        assert_eq!(db.close(), ffi::SQLITE_OK);
        assert!(take_log().is_empty());
    }
}
