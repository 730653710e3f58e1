//! WAL files of guarded databases: every page-1 frame written to them is checked (layer 2).
//!
//! A WAL opened through the walguard VFS whose database walguard opened itself is wrapped
//! with a [`Wal`] hook. It finds its database's guard from the WAL's name (`file::guard_of`),
//! not through `sqlite3_database_file_object` (as SQLite's cksumvfs.c does), which walks the
//! memory before the name and crashes when a VFS above walguard passes its own copy of it; and
//! keeps a pointer to it: SQLite closes a database's WAL before the database file
//! (`sqlite3PagerClose`), so the pointer never dangles. Any other WAL (its database adopted at
//! load, or opened through another VFS) belongs to the lower VFS alone; the database-file rule
//! still refuses any checkpoint of a page 1 that leaves WAL from it.
//!
//! Only `xWrite` (and `xClose`) are walguard's; every other entry of the table is the lower
//! function itself.

use std::ffi::c_int;

use libsqlite3_sys as ffi;
use walguard_core::wal::{FrameTracker, Probe, WAL_HEADER_LEN};

use crate::companions::Companion;
use crate::file;
use crate::guard::Guard;
use crate::vfs::Walguard;
use crate::wrap::io::{FileHooks, Hooked};
use crate::wrap::lower::LowerFile;
use crate::wrap::vfs::Opened;

/// The hooks on a guarded database's WAL.
pub struct Wal {
    /// The guard of the database this WAL belongs to.
    db: *mut Guard,
    frames: FrameTracker,
}

/// A WAL file the lower VFS opened: check its page-1 frames when its database is guarded by
/// this copy of walguard.
pub fn open(file: Opened<'_, Walguard>) -> c_int {
    let Some(db) = file::guard_of(&file, Companion::Wal) else {
        return ffi::SQLITE_OK; // not a database walguard opened: the lower VFS owns the WAL outright
    };
    // SAFETY: a registered guard lives until its database closes, after its WAL; SQLite
    // serialises the pager's calls.
    unsafe { (*db).wal_opened() };
    // A table of an unknown version: the WAL stays the lower VFS's, and the database's own
    // rule still refuses a checkpoint of a page 1 that leaves WAL.
    let _ = file.wrap(Wal { db, frames: FrameTracker::default() });
    ffi::SQLITE_OK
}

impl Wal {
    /// The database's guard.
    fn db(&mut self) -> &mut Guard {
        // SAFETY: the database's guard outlives its WAL file (see the module's manual); SQLite
        // serialises a connection's calls on its database and WAL files, so nothing else uses
        // the guard while a WAL write runs.
        unsafe { &mut *self.db }
    }

    /// Every WAL write that is not a routine append.
    #[inline(never)]
    fn write_any(&mut self, lower: &LowerFile, data: &[u8], offset: i64) -> Result<(), c_int> {
        match self.frames.observe(offset, data) {
            Probe::Nothing => Ok(()),
            probe => self.check(lower, offset, data, probe),
        }
    }

    /// A WAL write that puts a page's byte 19: find the page, and check it if it is page 1.
    fn check(&mut self, lower: &LowerFile, offset: i64, data: &[u8], mut probe: Probe) -> Result<(), c_int> {
        let read = |at: i64, buf: &mut [u8]| -> Result<(), c_int> {
            match lower.read_at(buf, at) {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(rc),
            }
        };
        if probe == Probe::NeedPageSize {
            let mut header = [0u8; WAL_HEADER_LEN as usize];
            read(0, &mut header).map_err(|rc| self.db().unchecked("a WAL write", rc))?;
            if !self.frames.learn(&header) {
                // No valid WAL header on disk: SQLite's recovery would ignore every frame.
                return Ok(());
            }
            probe = self.frames.observe(offset, data);
        }
        let written = probe
            .page1_byte(|frame| {
                let mut page_number = [0u8; 4];
                read(frame, &mut page_number).map(|()| u32::from_be_bytes(page_number))
            })
            .map_err(|rc| self.db().unchecked("a WAL write", rc))?;
        written.map_or(Ok(()), |byte| self.db().check_wal_page1(byte))
    }
}

impl FileHooks for Wal {
    fn hooked(&self, _lower: &ffi::sqlite3_io_methods) -> Hooked {
        Hooked { write: true, ..Hooked::default() }
    }

    #[inline(always)]
    fn write(&mut self, lower: &LowerFile, data: &[u8], offset: i64) -> Result<(), c_int> {
        if self.frames.routine(offset, data) {
            return Ok(()); // the hot path: every append of a routine frame
        }
        self.write_any(lower, data, offset)
    }
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
        (start + crate::wrap::tail_offset()..start + file.memory.layout.size()).contains(&table)
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
