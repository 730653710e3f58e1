//! The io methods of a guarded main database file.
//!
//! Every method forwards to the lower file. Three of them look at what passes:
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
//!   committed since (no `SQLITE_FCNTL_COMMIT_PHASETWO`, no unlock to SHARED). Its rollback
//!   puts version 1 back and is allowed.
//! - A hot journal (a crash in the middle of someone's 1 -> 2 switch) whose page-1 record is
//!   exactly the page being written: see `walguard_core::journal`.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::{mem, ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::header::{HEADER_LEN, written_read_version};
use walguard_core::journal::{JournalSource, journal_restores_page1};
use walguard_core::{
    HeaderFormat, JournalModeRequest, Policy, PragmaVerdict, WriteVerdict, decide_header_write, decide_pragma,
    is_journal_mode_pragma, resolve_journal_mode,
};

use crate::stats::{self, Event};
use crate::{config, sqlite, vfs};

/// walguard's part of a `sqlite3_file`; the lower VFS's file follows it in memory.
#[repr(C)]
pub struct GuardedFile {
    /// Must come first: SQLite sees this struct as a `sqlite3_file`.
    base: ffi::sqlite3_file,
    /// The lower VFS's file, right after this struct.
    lower: *mut ffi::sqlite3_file,
    /// The lower VFS, to open the rollback journal when a header write needs it.
    lower_vfs: *mut ffi::sqlite3_vfs,
    /// The database's full path as given to `xOpen`; SQLite keeps it valid until `xClose`.
    path: *const c_char,
    policy: Policy,
    /// What the on-disk header says, when known (see the module comment).
    on_disk: Option<HeaderFormat>,
    /// This file switched the header to WAL in a transaction that has not committed yet.
    uncommitted_switch: bool,
    /// The pragma layer let a downgrade through (warn, off) and logged it: the header write
    /// that follows is the same event and is not logged again. Cleared by that write or the
    /// next commit (not by an unlock: leaving WAL unlocks to SHARED before writing the header).
    downgrade_reported: bool,
}

/// Bytes walguard adds in front of the lower file (a multiple of 8, so the lower file is
/// as aligned as SQLite's own allocation).
pub const HEADER_SIZE: c_int = (mem::size_of::<GuardedFile>().next_multiple_of(8)) as c_int;

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
        let path = sqlite::bytes(name).unwrap_or_default();
        let policy = match policy_from_uri(name) {
            Ok(policy) => policy,
            Err(message) => {
                sqlite::log(ffi::SQLITE_CANTOPEN, &message);
                return ffi::SQLITE_CANTOPEN;
            }
        };
        if policy == Policy::Off {
            let path = String::from_utf8_lossy(path);
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
            out.cast::<GuardedFile>(),
            GuardedFile {
                base: ffi::sqlite3_file { pMethods: io_methods(version) },
                lower,
                lower_vfs,
                path: name,
                policy,
                on_disk: None,
                uncommitted_switch: false,
                downgrade_reported: false,
            },
        );
        ffi::SQLITE_OK
    }
}

/// The policy for one file: the `walguard` URI parameter, or the default.
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

/// The io-methods table with the same `iVersion` as the lower file's: a version-1 file
/// must not appear to support shared memory, a version-2 one must not appear to map pages.
fn io_methods(version: c_int) -> *const ffi::sqlite3_io_methods {
    static TABLES: [ffi::sqlite3_io_methods; 3] = [methods_v(1), methods_v(2), methods_v(3)];
    &TABLES[(version.clamp(1, 3) - 1) as usize]
}

const fn methods_v(version: c_int) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: version,
        xClose: Some(close),
        xRead: Some(read),
        xWrite: Some(write),
        xTruncate: Some(truncate),
        xSync: Some(sync),
        xFileSize: Some(file_size),
        xLock: Some(lock),
        xUnlock: Some(unlock),
        xCheckReservedLock: Some(check_reserved_lock),
        xFileControl: Some(file_control),
        xSectorSize: Some(sector_size),
        xDeviceCharacteristics: Some(device_characteristics),
        xShmMap: if version >= 2 { Some(shm_map) } else { None },
        xShmLock: if version >= 2 { Some(shm_lock) } else { None },
        xShmBarrier: if version >= 2 { Some(shm_barrier) } else { None },
        xShmUnmap: if version >= 2 { Some(shm_unmap) } else { None },
        xFetch: if version >= 3 { Some(fetch) } else { None },
        xUnfetch: if version >= 3 { Some(unfetch) } else { None },
    }
}

/// The guarded file behind a `sqlite3_file` handed to one of our io methods.
///
/// # Safety
/// `file` was set up by [`open`] and not closed; SQLite serialises calls on one file.
unsafe fn guarded<'a>(file: *mut ffi::sqlite3_file) -> &'a mut GuardedFile {
    // SAFETY: the caller vouches that `file` starts with a live GuardedFile.
    unsafe { &mut *file.cast::<GuardedFile>() }
}

/// The lower file's io methods.
///
/// # Safety
/// `lower` is an open lower file.
unsafe fn lower_methods<'a>(lower: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    // SAFETY: an open file always has methods (checked at open).
    unsafe { &*(*lower).pMethods }
}

/// What a full header read or written at `offset` tells about the disk.
fn header_seen(offset: i64, bytes: &[u8]) -> Option<HeaderFormat> {
    (offset == 0 && bytes.len() >= HEADER_LEN).then(|| HeaderFormat::parse(bytes))
}

impl GuardedFile {
    fn path_lossy(&self) -> String {
        // SAFETY: `path` is the xOpen filename, valid until xClose.
        String::from_utf8_lossy(unsafe { sqlite::bytes(self.path) }.unwrap_or_default()).into_owned()
    }

    /// Read the header on disk now, through the lower file.
    fn read_disk_header(&mut self) -> Result<HeaderFormat, c_int> {
        let mut header = [0u8; HEADER_LEN];
        // SAFETY: `lower` is open; the buffer holds HEADER_LEN bytes.
        let rc = unsafe {
            let read = lower_methods(self.lower).xRead.ok_or(ffi::SQLITE_IOERR_READ)?;
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

    /// Layer 2: may `data`, about to be written at `offset` and putting `read_version` into
    /// byte 19, go to disk? `Err` carries the code the write fails with.
    fn check_header_write(&mut self, offset: i64, data: &[u8], read_version: u8) -> Result<(), c_int> {
        let written = header_seen(offset, data).unwrap_or(HeaderFormat::from_read_version(read_version));
        match written {
            HeaderFormat::Rollback => {
                if matches!(self.on_disk, Some(HeaderFormat::Rollback | HeaderFormat::Absent | HeaderFormat::Other)) {
                    return Ok(()); // the common rollback-mode commit: no syscall
                }
                let on_disk = self.read_disk_header()?;
                if on_disk != HeaderFormat::Wal {
                    return Ok(());
                }
                let restoring = self.uncommitted_switch || (offset == 0 && self.hot_journal_restores(data));
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
    unsafe fn pragma(&mut self, az: *mut *mut c_char) -> Option<c_int> {
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
        Some(rc)
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
    unsafe fn vfs_name(&mut self, out: *mut *mut c_char) -> c_int {
        // SAFETY: forwarding the file-control to the lower file; strings it returns were
        // allocated with sqlite3_malloc and are ours to free; the lower VFS name is static.
        unsafe {
            let mut below: *mut c_char = ptr::null_mut();
            let rc = forward_file_control(self.lower, ffi::SQLITE_FCNTL_VFSNAME, (&raw mut below).cast());
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

/// # Safety
/// `lower` is an open lower file; `arg` is what the file-control `op` expects.
unsafe fn forward_file_control(lower: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: the caller vouches for the arguments.
    unsafe {
        match lower_methods(lower).xFileControl {
            Some(f) => f(lower, op, arg),
            None => ffi::SQLITE_NOTFOUND,
        }
    }
}

// The io methods. Each gets the GuardedFile SQLite opened through `open`. Lower methods
// exist for the lower file's iVersion (we present the same one), so the `else` arms are
// unreachable in practice; they return an error rather than panic across FFI.

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; GuardedFile owns no heap memory.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xClose else { return ffi::SQLITE_OK };
        f(g.lower)
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xRead else { return ffi::SQLITE_IOERR_READ };
        let rc = f(g.lower, buf, amt, offset);
        if offset == 0 {
            let seen = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
            g.on_disk = if rc == ffi::SQLITE_OK { header_seen(offset, seen).or(g.on_disk) } else { None };
        }
        rc
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if offset > walguard_core::header::READ_VERSION_OFFSET as i64 {
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

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        if size < HEADER_LEN as i64 {
            g.on_disk = None;
        }
        let Some(f) = lower_methods(g.lower).xTruncate else { return ffi::SQLITE_IOERR_TRUNCATE };
        f(g.lower, size)
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xSync else { return ffi::SQLITE_IOERR_FSYNC };
        f(g.lower, flags)
    }
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, out: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xFileSize else { return ffi::SQLITE_IOERR_FSTAT };
        f(g.lower, out)
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xLock else { return ffi::SQLITE_IOERR_LOCK };
        f(g.lower, level)
    }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        if level <= ffi::SQLITE_LOCK_SHARED {
            g.uncommitted_switch = false; // the transaction is over, one way or the other
        }
        let Some(f) = lower_methods(g.lower).xUnlock else { return ffi::SQLITE_IOERR_UNLOCK };
        f(g.lower, level)
    }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xCheckReservedLock else { return ffi::SQLITE_IOERR_CHECKRESERVEDLOCK };
        f(g.lower, out)
    }
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        let g = guarded(file);
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
        forward_file_control(g.lower, op, arg)
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        lower_methods(g.lower).xSectorSize.map_or(4096, |f| f(g.lower))
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        lower_methods(g.lower).xDeviceCharacteristics.map_or(0, |f| f(g.lower))
    }
}

unsafe extern "C" fn shm_map(file: *mut ffi::sqlite3_file, region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xShmMap else { return ffi::SQLITE_IOERR_SHMMAP };
        f(g.lower, region, size, extend, out)
    }
}

unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xShmLock else { return ffi::SQLITE_IOERR_SHMLOCK };
        f(g.lower, offset, n, flags)
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        if let Some(f) = lower_methods(g.lower).xShmBarrier {
            f(g.lower);
        }
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xShmUnmap else { return ffi::SQLITE_OK };
        f(g.lower, delete)
    }
}

unsafe extern "C" fn fetch(file: *mut ffi::sqlite3_file, offset: ffi::sqlite3_int64, amt: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: forwarding to the lower file. Page 1 is never memory-mapped for writing, and
    // SQLite never maps page 1 in a way that bypasses xWrite, so nothing to check here.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xFetch else {
            *out = ptr::null_mut();
            return ffi::SQLITE_OK;
        };
        f(g.lower, offset, amt, out)
    }
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: ffi::sqlite3_int64, page: *mut c_void) -> c_int {
    // SAFETY: forwarding to the lower file.
    unsafe {
        let g = guarded(file);
        let Some(f) = lower_methods(g.lower).xUnfetch else { return ffi::SQLITE_OK };
        f(g.lower, offset, page)
    }
}
