//! The guard of one main database file: its state and the decisions taken on its I/O.
//!
//! The io methods (`file.rs`) forward everything to the lower file and call in here for:
//! - `xFileControl(SQLITE_FCNTL_PRAGMA)` for `journal_mode`: layer 1;
//! - `xWrite` of the header's read version (byte 19): layer 2;
//! - `xRead` at offset 0, to remember what the header on disk says.
//!
//! ## Why a remembered header is as good as reading it
//! The write check needs the on-disk header only when a write puts read version 1 on a file
//! that might say 2. `on_disk` holds what the last full header read or write through this
//! file saw, or `None` when that is not known. A write of version 1 passes without a syscall
//! only when `on_disk` says the file is not WAL. That knowledge can only go stale if another
//! connection switched the file to WAL since, and that switch is a rollback-journal commit,
//! which increments the change counter; before this connection's pager can write page 1 again
//! it takes a lock, sees the new change counter and re-reads page 1 through `xRead`, which
//! refreshes `on_disk`. In every other case (unknown, or WAL) the header is read from disk
//! again before deciding, so a stale "WAL" can cost a read but never a false refusal.
//!
//! ## Legitimate 2 -> 1 writes
//! - `uncommitted_switch`: this file wrote version 2 over a non-WAL header and has not
//!   committed since (no `SQLITE_FCNTL_COMMIT_PHASETWO`, which SQLite sends after every
//!   commit). Its rollback puts version 1 back and is allowed, once.
//! - A hot journal (a crash in the middle of someone's 1 -> 2 switch) whose page-1 record is
//!   exactly the page being written: see `walguard_core::journal`.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;

use libsqlite3_sys as ffi;
use walguard_core::header::HEADER_LEN;
use walguard_core::journal::{JournalSource, journal_restores_page1};
use walguard_core::{
    HeaderFormat, JournalModeRequest, Policy, PragmaVerdict, WriteVerdict, decide_header_write, decide_pragma,
    is_journal_mode_pragma, resolve_journal_mode,
};

use crate::stats::{self, Event};
use crate::{config, sqlite, vfs};

/// The state walguard keeps for one guarded file.
pub struct Guard {
    /// The guarded file itself, as the lower VFS opened it, and the lower io methods.
    pub lower: *mut ffi::sqlite3_file,
    pub lower_methods: *const ffi::sqlite3_io_methods,
    /// The VFS that opened the lower file, to open the rollback journal when a header write
    /// needs it.
    lower_vfs: *mut ffi::sqlite3_vfs,
    /// The database's full path; SQLite keeps it valid until the file is closed.
    path: *const c_char,
    pub policy: Policy,
    /// What the on-disk header says, when known (see the module comment).
    pub on_disk: Option<HeaderFormat>,
    /// This file switched the header to WAL in a transaction that has not committed yet.
    pub uncommitted_switch: bool,
    /// The pragma layer let a downgrade through (warn, off) and logged it: the header write
    /// that follows is the same event and is not logged again. Cleared by that write or the
    /// next commit (not by an unlock: leaving WAL unlocks to SHARED before writing the header).
    pub downgrade_reported: bool,
}

/// What a full header read or written at `offset` tells about the disk.
pub fn header_seen(offset: i64, bytes: &[u8]) -> Option<HeaderFormat> {
    (offset == 0 && bytes.len() >= HEADER_LEN).then(|| HeaderFormat::parse(bytes))
}

impl Guard {
    pub fn new(
        lower: *mut ffi::sqlite3_file,
        lower_methods: *const ffi::sqlite3_io_methods,
        lower_vfs: *mut ffi::sqlite3_vfs,
        path: *const c_char,
        policy: Policy,
    ) -> Guard {
        Guard { lower, lower_methods, lower_vfs, path, policy, on_disk: None, uncommitted_switch: false, downgrade_reported: false }
    }

    /// The transaction committed (`SQLITE_FCNTL_COMMIT_PHASETWO`): nothing is uncommitted.
    pub fn committed(&mut self) {
        self.uncommitted_switch = false;
        self.downgrade_reported = false;
    }

    /// Forward a file-control to the lower file.
    #[inline(always)]
    pub fn file_control(&self, op: c_int, arg: *mut c_void) -> c_int {
        // SAFETY: `lower` is open with `lower_methods`; `arg` is what `op` expects, as SQLite
        // passed it to us.
        unsafe {
            match (*self.lower_methods).xFileControl {
                Some(f) => f(self.lower, op, arg),
                None => ffi::SQLITE_NOTFOUND,
            }
        }
    }

    fn path_lossy(&self) -> String {
        // SAFETY: `path` is the xOpen filename, valid until xClose.
        String::from_utf8_lossy(unsafe { sqlite::bytes(self.path) }.unwrap_or_default()).into_owned()
    }

    /// Read the header on disk now, through the lower file.
    pub fn read_disk_header(&mut self) -> Result<HeaderFormat, c_int> {
        let mut header = [0u8; HEADER_LEN];
        // SAFETY: `lower` is open; the buffer holds HEADER_LEN bytes.
        let rc = unsafe {
            let read = (*self.lower_methods).xRead.ok_or(ffi::SQLITE_IOERR_READ)?;
            read(self.lower, header.as_mut_ptr().cast(), HEADER_LEN as c_int, 0)
        };
        let format = match rc {
            ffi::SQLITE_OK => HeaderFormat::parse(&header),
            ffi::SQLITE_IOERR_SHORT_READ => HeaderFormat::Absent,
            error => return Err(error),
        };
        self.on_disk = Some(format);
        Ok(format)
    }

    /// Can a write leaving a header that says `written` change the journal format on disk?
    /// Decided from what is remembered, without a syscall; see the module comment for why
    /// a remembered non-WAL header is as good as reading it.
    #[inline(always)]
    pub fn header_write_needs_check(&self, written: HeaderFormat) -> bool {
        match written {
            // Only a WAL header on disk can be downgraded.
            HeaderFormat::Rollback => !matches!(self.on_disk, Some(HeaderFormat::Rollback | HeaderFormat::Absent | HeaderFormat::Other)),
            // Switching to WAL: remember that it is uncommitted.
            HeaderFormat::Wal => self.on_disk != Some(HeaderFormat::Wal),
            HeaderFormat::Absent | HeaderFormat::Other => false,
        }
    }

    /// Layer 2: may `data`, about to be written at `offset` and leaving a header that says
    /// `written`, go to disk? `Err` carries the code the write fails with.
    #[cold]
    #[inline(never)]
    pub fn check_header_write(&mut self, offset: i64, data: &[u8], written: HeaderFormat) -> Result<(), c_int> {
        match written {
            HeaderFormat::Rollback => {
                let on_disk = self.read_disk_header()?;
                if on_disk != HeaderFormat::Wal {
                    return Ok(());
                }
                // Rolling back our own switch puts version 1 back once; then it is over.
                let restoring = std::mem::take(&mut self.uncommitted_switch) || (offset == 0 && self.hot_journal_restores(data));
                let already_reported = std::mem::take(&mut self.downgrade_reported);
                match decide_header_write(self.policy, on_disk, written, restoring) {
                    WriteVerdict::Allow => {
                        if self.policy == Policy::Off && !restoring && !already_reported {
                            stats::count(Event::Deliberate);
                            self.report_header_downgrade(ffi::SQLITE_NOTICE, "deliberately allowed");
                        }
                        Ok(())
                    }
                    WriteVerdict::Warn => {
                        if !already_reported {
                            stats::count(Event::Warned);
                            self.report_header_downgrade(ffi::SQLITE_WARNING, "allowed");
                        }
                        Ok(())
                    }
                    WriteVerdict::Refuse => {
                        stats::count(Event::RefusedHeaderWrite);
                        self.report_header_downgrade(ffi::SQLITE_IOERR_WRITE, "refused");
                        Err(ffi::SQLITE_IOERR_WRITE)
                    }
                }
            }
            HeaderFormat::Wal => {
                let before = match self.on_disk {
                    Some(known) => known,
                    None => self.read_disk_header()?,
                };
                if before != HeaderFormat::Wal {
                    self.uncommitted_switch = true;
                }
                Ok(())
            }
            HeaderFormat::Absent | HeaderFormat::Other => Ok(()),
        }
    }

    fn report_header_downgrade(&self, code: c_int, outcome: &str) {
        sqlite::log(
            code,
            &format!("walguard: {outcome} a header write leaving WAL, policy {}: '{}'", self.policy.name(), self.path_lossy()),
        );
    }

    /// Is there a hot rollback journal whose page-1 record is exactly `page`?
    fn hot_journal_restores(&self, page: &[u8]) -> bool {
        // SAFETY: `path` is the xOpen filename, valid until xClose.
        let Some(path) = (unsafe { sqlite::bytes(self.path) }) else { return false };
        let Ok(journal_path) = CString::new([path, b"-journal"].concat()) else { return false };
        // SAFETY: `lower_vfs` is the registered lower VFS; the path outlives the open file.
        match unsafe { LowerFile::open_existing(self.lower_vfs, &journal_path) } {
            Some(mut journal) => journal_restores_page1(&mut journal, page),
            None => false,
        }
    }

    /// `SQLITE_FCNTL_PRAGMA`: `PRAGMA walguard`, and layer 1 for `journal_mode`. `Some(rc)`
    /// answers the file-control; `None` lets it through to the lower file.
    ///
    /// # Safety
    /// `az` is the `char*[3]` of `SQLITE_FCNTL_PRAGMA`.
    #[cold]
    #[inline(never)]
    pub unsafe fn pragma(&mut self, az: *mut *mut c_char) -> Option<c_int> {
        // SAFETY: az[1] is the pragma name and az[2] its value or null, as SQLite documents.
        let (name, value) = unsafe { (sqlite::bytes(*az.add(1))?, sqlite::bytes(*az.add(2))) };
        let (rc, answer) = if name.eq_ignore_ascii_case(b"walguard") {
            self.walguard_pragma(value)
        } else if is_journal_mode_pragma(name) {
            self.journal_mode_pragma(value)?
        } else {
            return None;
        };
        // SAFETY: az[0] is SQLite's out slot, freed by SQLite with sqlite3_free.
        unsafe { *az = sqlite::sqlite_string(&answer) };
        // Without its message (out of memory), an answer would be an empty row or a bare
        // "SQL logic error": say what happened instead.
        // SAFETY: reading back the slot just written.
        Some(if unsafe { (*az).is_null() } { ffi::SQLITE_NOMEM } else { rc })
    }

    /// `PRAGMA walguard` answers the policy of this file. It cannot change it: a policy is
    /// chosen when the file is opened.
    fn walguard_pragma(&self, value: Option<&[u8]>) -> (c_int, String) {
        match value {
            None => (ffi::SQLITE_OK, self.policy.name().to_owned()),
            Some(_) => (
                ffi::SQLITE_ERROR,
                format!(
                    "walguard: PRAGMA walguard only reports the policy; choose it when opening the file \
                     (URI parameter walguard=<policy>) or for the process ({}=<policy>)",
                    config::POLICY_VAR
                ),
            ),
        }
    }

    /// Layer 1: `PRAGMA journal_mode`, decided under this file's policy.
    fn journal_mode_pragma(&mut self, value: Option<&[u8]>) -> Option<(c_int, String)> {
        let request = resolve_journal_mode(value);
        let JournalModeRequest::Set(mode) = request else { return None };
        if !mode.is_rollback() {
            return None;
        }
        let on_disk = self.read_disk_header().ok()?;
        let mode = mode.name().to_ascii_uppercase();
        let path = self.path_lossy();
        match decide_pragma(self.policy, request, on_disk) {
            PragmaVerdict::Allow => {
                if self.policy == Policy::Off && on_disk == HeaderFormat::Wal {
                    self.downgrade_reported = true;
                    stats::count(Event::Deliberate);
                    sqlite::log(ffi::SQLITE_NOTICE, &format!("walguard: deliberate journal_mode={mode} on a WAL database, policy off: '{path}'"));
                }
                None
            }
            PragmaVerdict::Warn => {
                self.downgrade_reported = true;
                stats::count(Event::Warned);
                sqlite::log(ffi::SQLITE_WARNING, &format!("walguard: allowed journal_mode={mode} on a WAL database, policy warn: '{path}'"));
                None
            }
            PragmaVerdict::Keep => {
                stats::count(Event::Kept);
                sqlite::log(ffi::SQLITE_WARNING, &format!("walguard: kept WAL, journal_mode={mode} answered wal, policy keep: '{path}'"));
                Some((ffi::SQLITE_OK, "wal".to_owned()))
            }
            PragmaVerdict::Refuse => {
                let reason = if on_disk == HeaderFormat::Wal {
                    "the database is in WAL mode and other connections may depend on it"
                } else {
                    "policy strict requires WAL for every database"
                };
                let message = format!(
                    "walguard: refused journal_mode={mode} on '{path}': {reason}; to convert it deliberately, \
                     close every other connection and open it as 'file:{path}?walguard=off'"
                );
                stats::count(Event::RefusedPragma);
                sqlite::log(ffi::SQLITE_ERROR, &format!("walguard: refused journal_mode={mode}, policy {}: '{path}'", self.policy.name()));
                Some((ffi::SQLITE_ERROR, message))
            }
        }
    }

    /// `SQLITE_FCNTL_VFSNAME`: `walguard/<lower>`, where `<lower>` is what the lower file
    /// reports (a stack of shims) or the lower VFS's name.
    ///
    /// # Safety
    /// `out` is the `char**` of the file-control.
    #[cold]
    #[inline(never)]
    pub unsafe fn vfs_name(&mut self, out: *mut *mut c_char) -> c_int {
        // SAFETY: forwarding the file-control to the lower file; strings it returns were
        // allocated with sqlite3_malloc and are ours to free; the lower VFS name is static.
        unsafe {
            let mut below: *mut c_char = ptr::null_mut();
            let rc = self.file_control(ffi::SQLITE_FCNTL_VFSNAME, (&raw mut below).cast());
            let lower_name = if rc == ffi::SQLITE_OK && !below.is_null() {
                let name = CStr::from_ptr(below).to_string_lossy().into_owned();
                ffi::sqlite3_free(below.cast());
                name
            } else {
                CStr::from_ptr((*self.lower_vfs).zName).to_string_lossy().into_owned()
            };
            *out = sqlite::sqlite_string(&format!("{}/{lower_name}", vfs::NAME.to_string_lossy()));
        }
        ffi::SQLITE_OK
    }
}

/// A file opened directly through the lower VFS for inspection (the rollback journal).
struct LowerFile {
    /// Backing storage of szOsFile bytes, 8-byte aligned.
    storage: Vec<u64>,
}

impl LowerFile {
    /// Open `path` read-only if it exists.
    ///
    /// # Safety
    /// `vfs` is a registered VFS; `path` outlives the returned file.
    unsafe fn open_existing(vfs: *mut ffi::sqlite3_vfs, path: &CStr) -> Option<LowerFile> {
        // SAFETY: the VFS methods are called as SQLite would, on storage of szOsFile bytes.
        unsafe {
            let mut exists = 0;
            let access = (*vfs).xAccess?;
            if access(vfs, path.as_ptr(), ffi::SQLITE_ACCESS_EXISTS, &mut exists) != ffi::SQLITE_OK || exists == 0 {
                return None;
            }
            let words = usize::try_from((*vfs).szOsFile).ok()?.div_ceil(8).max(1);
            let mut file = LowerFile { storage: vec![0u64; words] };
            let flags = ffi::SQLITE_OPEN_READONLY | ffi::SQLITE_OPEN_MAIN_JOURNAL;
            let rc = (*vfs).xOpen?(vfs, path.as_ptr(), file.as_file(), flags, ptr::null_mut());
            (rc == ffi::SQLITE_OK).then_some(file)
        }
    }

    fn as_file(&mut self) -> *mut ffi::sqlite3_file {
        self.storage.as_mut_ptr().cast()
    }

    fn methods(&mut self) -> Option<&ffi::sqlite3_io_methods> {
        // SAFETY: pMethods is null or the methods of the open file.
        unsafe { (*self.as_file()).pMethods.as_ref() }
    }
}

impl JournalSource for LowerFile {
    fn size(&mut self) -> Option<u64> {
        let file = self.as_file();
        let mut size: ffi::sqlite3_int64 = 0;
        let file_size = self.methods()?.xFileSize?;
        // SAFETY: the file is open; `size` is a valid out-parameter.
        let rc = unsafe { file_size(file, &mut size) };
        (rc == ffi::SQLITE_OK).then(|| u64::try_from(size).ok()).flatten()
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> bool {
        let file = self.as_file();
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), c_int::try_from(buf.len())) else { return false };
        let Some(read) = self.methods().and_then(|m| m.xRead) else { return false };
        // SAFETY: the file is open; `buf` holds `len` bytes.
        unsafe { read(file, buf.as_mut_ptr().cast(), len, offset) == ffi::SQLITE_OK }
    }
}

impl Drop for LowerFile {
    fn drop(&mut self) {
        let file = self.as_file();
        if let Some(close) = self.methods().and_then(|m| m.xClose) {
            // SAFETY: the file is open and closed exactly once.
            unsafe { close(file) };
        }
    }
}
