//! The guard of one main database file: the FFI side of both layers.
//!
//! The io methods (`file.rs`, `wal_file.rs`) forward everything to the lower file and call in
//! here for:
//! - `xFileControl(SQLITE_FCNTL_PRAGMA)` for `journal_mode`: layer 1;
//! - `xWrite` of the database file, and of its WAL file, when the write puts anything but 2
//!   at byte 19 of page 1: layer 2, decided by `walguard_core::write_guard`, which asks the
//!   disk (through [`Guard`]'s [`Disk`] implementation) for the header and the journal;
//! - a checkpoint's start and end, events of that state machine: `SQLITE_FCNTL_CKPT_START`/
//!   `CKPT_DONE`, or on hosts older than 3.32.0 the exclusive CKPT lock of the wal-index
//!   (`walguard_core::checkpoint`).
//!
//! Nothing here remembers the header: every decision reads it from the database file.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::Arc;

use libsqlite3_sys as ffi;
use walguard_core::checkpoint::CheckpointSignal;
use walguard_core::header::HEADER_LEN;
use walguard_core::journal::{JournalSource, journal_restores_page1};
use walguard_core::settings;
use walguard_core::wal_reset::{LockVerdict, ResetGuard, SALT_OFFSET, SHM_EXCLUSIVE, SHM_LOCK, SHM_UNLOCK, Salts};
use walguard_core::{
    Disk, FileGuard, HeaderFormat, JournalModeRequest, Policy, PragmaContext, PragmaVerdict, Refusal, Verdict, decide_pragma,
    is_journal_mode_pragma, resolve_journal_mode,
};

use crate::stats::{self, Event};

use crate::loader::Loader;
use crate::lower::LowerFile;
use crate::{config, host};

/// The state walguard keeps for one guarded file.
pub struct Guard {
    /// The file as the lower VFS opened it.
    pub db: DbFile,
    /// The header guard's state machine.
    state: FileGuard,
    /// The connection using the file, for layer 1's view of its transaction and settings.
    connection: Connection,
    /// This connection cannot write the file (read-only, `immutable=1`, `nolock=1`).
    cannot_write: bool,
    /// The WAL-reset bug's salt check (`walguard_core::wal_reset`).
    reset: ResetGuard,
    /// The WAL-reset mitigation is on (`WALGUARD_WAL_RESET_FIX`, read once per file).
    reset_fix: bool,
    /// The filesystem was checked for WAL safety (at the first WAL opened for the file).
    filesystem_checked: bool,
}

/// How a guarded file finds the connection that uses it.
pub enum Connection {
    Unknown,
    /// `SQLITE_FCNTL_PDB`: the btree's connection slot, which SQLite points at the connection
    /// in use (`sqlite3BtreeEnter`) before it sends the file a file-control.
    Slot(*const *mut ffi::sqlite3),
    /// The connection that loaded walguard and adopted the file, while it is open.
    Loader(Arc<Loader>),
}

/// A guarded database file as the lower VFS opened it: what the state machine asks of the
/// disk is answered through it.
pub struct DbFile {
    /// The guarded file itself, with the lower io methods.
    pub lower: LowerFile,
    /// The VFS that opened the file, for `SQLITE_FCNTL_VFSNAME`.
    vfs: *mut ffi::sqlite3_vfs,
    /// The database's full path; SQLite keeps it valid until the file is closed.
    path: *const c_char,
    /// Region 0 of the wal-index, as the lower `xShmMap` gave it to SQLite (null: not mapped).
    wal_index: *const u8,
    /// The pager's rollback-journal handle, once walguard has seen it (`Guard::journal_opened`).
    journal: Option<Journal>,
}

impl Guard {
    /// # Safety
    /// `file` is open with `methods`, by `vfs`; `path` is its name as SQLite passed it to
    /// `xOpen` (valid until the file is closed); `uri` says it carries URI parameters
    /// (`SQLITE_OPEN_URI`, or a name SQLite made itself).
    pub unsafe fn new(
        file: *mut ffi::sqlite3_file,
        methods: *const ffi::sqlite3_io_methods,
        vfs: *mut ffi::sqlite3_vfs,
        path: *const c_char,
        policy: Policy,
        uri: bool,
    ) -> Guard {
        // SAFETY: with `uri`, `path` is a database filename as SQLite made it, with its URI
        // parameters after it, which sqlite3_uri_boolean reads.
        let nolock = uri
            && unsafe { ffi::sqlite3_uri_boolean(path, c"immutable".as_ptr(), 0) | ffi::sqlite3_uri_boolean(path, c"nolock".as_ptr(), 0) }
                != 0;
        Guard {
            // SAFETY: the caller vouches that `file` is open with `methods`; the guard, which
            // holds the LowerFile, is dropped at the file's xClose.
            db: DbFile { lower: unsafe { LowerFile::new(file, methods) }, vfs, path, wal_index: ptr::null(), journal: None },
            state: FileGuard::new(policy, CheckpointSignal::for_host(host::libversion_number())),
            connection: Connection::Unknown,
            cannot_write: nolock,
            reset: ResetGuard::default(),
            reset_fix: config::wal_reset_fix(),
            filesystem_checked: false,
        }
    }

    /// An exclusive `xShmLock` was granted: the salt check decides whether a checkpoint may go
    /// on. `Err` is the code the lock call answers instead (the lock released again).
    pub fn shm_locked_exclusive(&mut self, offset: c_int, n: c_int) -> Result<(), c_int> {
        self.state.shm_lock(offset, n, SHM_LOCK | SHM_EXCLUSIVE);
        if !self.reset_fix {
            return Ok(()); // watched for the checkpoint only (a host older than 3.32.0)
        }
        let db = &self.db;
        match self.reset.locked(offset, n, || db.wal_index_salts()) {
            LockVerdict::Keep => Ok(()),
            LockVerdict::HoldBack => {
                // Release the lock the lower xShmLock just granted.
                db.lower.shm_lock(offset, n, SHM_UNLOCK | SHM_EXCLUSIVE);
                stats::count(Event::WalResetHeld);
                host::log(
                    ffi::SQLITE_NOTICE,
                    &format!(
                        "walguard: held back a checkpoint: the WAL was reset under it (SQLite's WAL-reset bug): '{}'",
                        self.path_lossy()
                    ),
                );
                Err(ffi::SQLITE_BUSY)
            }
        }
    }

    /// `xShmMap` gave SQLite `region` as region `index` of the wal-index (null: unmapped).
    ///
    /// # Safety
    /// `region` is null or the lower `xShmMap`'s mapping of that region (32 KiB), valid until
    /// `xShmUnmap`, which calls this with null first.
    pub unsafe fn shm_mapped(&mut self, index: c_int, region: *const u8) {
        if index == 0 {
            self.db.wal_index = region;
        }
    }

    /// Does the salt check follow this `xShmLock` call?
    #[inline(always)]
    pub fn reset_tracks(&self, offset: c_int, n: c_int, flags: c_int) -> bool {
        self.reset.tracks(offset, n, flags)
    }

    /// Exclusive `xShmLock` locks were released.
    pub fn shm_unlocked_exclusive(&mut self, offset: c_int, n: c_int) {
        self.state.shm_lock(offset, n, SHM_UNLOCK | SHM_EXCLUSIVE);
        self.reset.unlocked(offset, n);
    }

    /// The pager of this file opened its rollback journal (through walguard's VFS), or, for a
    /// file adopted at load, has the journal handle `journal.file` (`SQLITE_FCNTL_JOURNAL_POINTER`).
    pub fn journal_opened(&mut self, journal: Journal) {
        self.db.journal = Some(journal);
    }

    /// SQLite opened the file's WAL through walguard: the first time, say once per process
    /// when the database lives where WAL is not safe (`walguard_core::fs`): in the log and in
    /// `walguard_status()`.
    pub fn wal_opened(&mut self) {
        if std::mem::replace(&mut self.filesystem_checked, true) {
            return;
        }
        let Some(magic) = host::filesystem_magic(self.path_bytes()) else { return };
        let filesystem = walguard_core::fs::classify_magic(magic);
        let path = self.path_lossy();
        if !filesystem.wal.is_safe() && stats::note_at_risk(format!("{path} ({}: {})", filesystem.name, filesystem.wal.as_str())) {
            host::log(
                ffi::SQLITE_WARNING,
                &format!("walguard: a WAL database on {}: {}: '{path}'", filesystem.name, filesystem.wal.warning()),
            );
        }
    }

    /// The file was opened read-only for this connection.
    pub fn opened_read_only(&mut self) {
        self.cannot_write = true;
    }

    /// `SQLITE_FCNTL_PDB`, or adoption by the loading connection.
    pub fn used_by(&mut self, connection: Connection) {
        self.connection = connection;
    }

    /// `SQLITE_FCNTL_PDB`: SQLite sends it once, from `sqlite3BtreeOpen`, before anything else
    /// reaches the file; the slot is taken then and never again, so an application calling
    /// `sqlite3_file_control(db, "main", SQLITE_FCNTL_PDB, p)` with a pointer of its own cannot
    /// make walguard read through it (the file-control still goes to the lower file).
    pub fn connection_slot(&mut self, slot: *const *mut ffi::sqlite3) {
        if matches!(self.connection, Connection::Unknown) && !slot.is_null() {
            self.connection = Connection::Slot(slot);
        }
    }

    /// What, besides the header, decides whether SQLite itself would leave WAL: the
    /// transaction state and `SQLITE_DBCONFIG_DEFENSIVE` of the connection using the file,
    /// when it is known.
    fn pragma_context(&self) -> PragmaContext {
        // SAFETY (both reads): the connection is live: the slot's is preparing the statement that
        // sent the file-control, the loader's is open while `with` runs; sqlite3_get_autocommit
        // reads one field, sqlite3_db_config takes the connection's mutex, which this thread
        // holds already (it is recursive).
        let (in_transaction, defensive) = match &self.connection {
            Connection::Unknown => None,
            // SAFETY: the slot is a field of the btree that owns this file's pager, which lives
            // until the file is closed.
            Connection::Slot(slot) => Some(unsafe { **slot }).filter(|db| !db.is_null()).map(|db| unsafe {
                let mut defensive = 0;
                let rc = ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_DEFENSIVE, -1, &mut defensive);
                (ffi::sqlite3_get_autocommit(db) == 0, rc == ffi::SQLITE_OK && defensive != 0)
            }),
            // SAFETY: as above.
            Connection::Loader(loader) => loader.with(|db, defensive| (unsafe { ffi::sqlite3_get_autocommit(db) } == 0, defensive)),
        }
        .unwrap_or((false, false));
        PragmaContext { in_transaction, defensive, cannot_write: self.cannot_write }
    }

    pub fn policy(&self) -> Policy {
        self.state.policy()
    }

    /// A file-control that may mark a checkpoint's start or end, or a commit (the state
    /// machine decides which: `FileGuard::file_control`).
    pub fn file_control_event(&mut self, op: c_int) {
        self.state.file_control(op);
    }

    /// Should the wal-index's methods be watched (`FileGuard::watches_shm`)?
    pub fn watches_shm(&self) -> bool {
        self.state.watches_shm(self.reset_fix)
    }

    /// Forward a file-control to the lower file.
    ///
    /// # Safety
    /// `arg` is what `op` expects, as SQLite passed it.
    #[inline(always)]
    pub unsafe fn file_control(&self, op: c_int, arg: *mut c_void) -> c_int {
        // SAFETY: as the caller vouches.
        unsafe { self.db.lower.file_control(op, arg) }
    }

    fn path_lossy(&self) -> String {
        self.db.path_lossy()
    }

    /// The database's name as SQLite passed it to `xOpen`.
    pub fn path_bytes(&self) -> &[u8] {
        // SAFETY: `path` is the xOpen filename, valid until xClose, which drops the guard.
        unsafe { host::bytes(self.db.path) }.unwrap_or_default()
    }

    /// Layer 2 for a write of `data` at `offset` of the database file
    /// (`FileGuard::database_write`). `Err` carries the code the write fails with.
    pub fn check_database_write(&mut self, offset: i64, data: &[u8]) -> Result<(), c_int> {
        let verdict = self.state.database_write(offset, data, &mut self.db).map_err(|rc| self.unchecked("a header write", rc))?;
        self.report(verdict)
    }

    /// A write walguard could not decide, because reading what decides it failed: it fails
    /// with that error, and says so (an I/O error with no line of walguard's would hide whose
    /// it is).
    #[cold]
    #[inline(never)]
    pub fn unchecked(&self, what: &str, rc: c_int) -> c_int {
        host::log(rc, &format!("walguard: {what} failed: reading what decides it failed (error {rc}): '{}'", self.path_lossy()));
        rc
    }

    /// `xUnlock`: the transaction ended.
    #[inline(always)]
    pub fn unlocked(&mut self) {
        self.state.unlocked();
    }

    /// Layer 2 for a WAL frame that puts `written` (not 2) at byte 19 of page 1.
    pub fn check_wal_page1(&mut self, written: u8) -> Result<(), c_int> {
        let verdict = self.state.wal_frame_page1(written, &mut self.db).map_err(|rc| self.unchecked("a WAL frame of page 1", rc))?;
        self.report(verdict)
    }

    /// Count and log what the state machine decided; a refusal fails the write.
    fn report(&mut self, verdict: Verdict) -> Result<(), c_int> {
        match verdict {
            Verdict::Pass | Verdict::Restore => Ok(()),
            Verdict::Warned { report } => {
                if report {
                    stats::count(Event::Warned);
                    self.report_header_downgrade(ffi::SQLITE_WARNING, "allowed");
                }
                Ok(())
            }
            Verdict::Deliberate { report } => {
                if report {
                    stats::count(Event::Deliberate);
                    self.report_header_downgrade(ffi::SQLITE_NOTICE, "deliberately allowed");
                }
                Ok(())
            }
            Verdict::Refuse(refusal) => {
                self.report_refusal(refusal);
                Err(ffi::SQLITE_IOERR_WRITE)
            }
        }
    }

    fn report_header_downgrade(&self, code: c_int, outcome: &str) {
        host::log(
            code,
            &format!("walguard: {outcome} a header write leaving WAL, policy {}: '{}'", self.policy().name(), self.path_lossy()),
        );
    }

    fn report_refusal(&self, refusal: Refusal) {
        let (event, what) = match refusal {
            Refusal::Downgrade => (Event::RefusedHeaderWrite, "a header write leaving WAL"),
            Refusal::WalFrame => (Event::RefusedWalFrame, "a WAL frame whose page 1 leaves WAL"),
            Refusal::PoisonedCheckpoint => (
                Event::RefusedCheckpoint,
                "a checkpoint: the WAL holds a page 1 that leaves WAL, written without walguard \
                 (the WAL keeps growing until that page is rewritten; run VACUUM through walguard)",
            ),
        };
        stats::count(event);
        host::log(ffi::SQLITE_IOERR_WRITE, &format!("walguard: refused {what}, policy {}: '{}'", self.policy().name(), self.path_lossy()));
    }

    /// `SQLITE_FCNTL_PRAGMA`: `PRAGMA walguard`, and layer 1 for `journal_mode`. `Some(rc)`
    /// answers the file-control; `None` lets it through to the lower file.
    ///
    /// # Safety
    /// `az` is null (an application calling `sqlite3_file_control` itself; the lower VFS
    /// gets it) or the `char*[3]` of `SQLITE_FCNTL_PRAGMA`.
    #[cold]
    #[inline(never)]
    pub unsafe fn pragma(&mut self, az: *mut *mut c_char) -> Option<c_int> {
        if az.is_null() {
            return None;
        }
        // SAFETY: az[1] is the pragma name and az[2] its value or null, as SQLite documents.
        let (name, value) = unsafe { (host::bytes(*az.add(1))?, host::bytes(*az.add(2))) };
        let (rc, answer) = if name.eq_ignore_ascii_case(b"walguard") {
            self.walguard_pragma(value)
        } else if is_journal_mode_pragma(name) {
            self.journal_mode_pragma(value)?
        } else {
            return None;
        };
        // SAFETY: az[0] is SQLite's out slot, freed by SQLite with sqlite3_free.
        unsafe { *az = host::sqlite_string(&answer) };
        // Without its message (out of memory), an answer would be an empty row or a bare
        // "SQL logic error": say what happened instead.
        // SAFETY: reading back the slot just written.
        Some(if unsafe { (*az).is_null() } { ffi::SQLITE_NOMEM } else { rc })
    }

    /// `PRAGMA walguard` answers the policy of this file. It cannot change it: a policy is
    /// chosen when the file is opened.
    fn walguard_pragma(&self, value: Option<&[u8]>) -> (c_int, String) {
        match value {
            None => (ffi::SQLITE_OK, self.walguard_pragma_answer()),
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

    /// The policy, and a warning when the last checkpoint found the WAL poisoned.
    fn walguard_pragma_answer(&self) -> String {
        let policy = self.policy().name();
        if self.state.wal_poisoned() {
            format!(
                "{policy}; WAL poisoned: it holds a page 1 that leaves WAL, written without walguard, so checkpoints are refused; run VACUUM"
            )
        } else {
            policy.to_owned()
        }
    }

    /// Layer 1: `PRAGMA journal_mode`, decided under this file's policy.
    fn journal_mode_pragma(&mut self, value: Option<&[u8]>) -> Option<(c_int, String)> {
        let request = resolve_journal_mode(value);
        let JournalModeRequest::Set(mode) = request else { return None };
        if !mode.is_rollback() {
            return None;
        }
        let on_disk = self.db.database_header().ok()?;
        let mode = mode.name().to_ascii_uppercase();
        let path = self.path_lossy();
        match decide_pragma(self.policy(), request, on_disk, self.pragma_context()) {
            PragmaVerdict::Allow => None,
            PragmaVerdict::Deliberate => {
                self.state.downgrade_reported_by_pragma();
                stats::count(Event::Deliberate);
                host::log(ffi::SQLITE_NOTICE, &format!("walguard: deliberate journal_mode={mode} on a WAL database, policy off: '{path}'"));
                None
            }
            PragmaVerdict::Warn => {
                self.state.downgrade_reported_by_pragma();
                stats::count(Event::Warned);
                host::log(ffi::SQLITE_WARNING, &format!("walguard: allowed journal_mode={mode} on a WAL database, policy warn: '{path}'"));
                None
            }
            PragmaVerdict::Keep => {
                stats::count(Event::Kept);
                host::log(ffi::SQLITE_WARNING, &format!("walguard: kept WAL, journal_mode={mode} answered wal, policy keep: '{path}'"));
                Some((ffi::SQLITE_OK, "wal".to_owned()))
            }
            PragmaVerdict::Refuse => {
                let reason = if on_disk == HeaderFormat::Wal {
                    "the database is in WAL mode and other connections may depend on it"
                } else {
                    "policy strict requires WAL for every database"
                };
                // SAFETY: `path` is the xOpen filename, valid until xClose.
                let uri = settings::deliberate_uri(unsafe { host::bytes(self.db.path) }.unwrap_or_default());
                let message = format!(
                    "walguard: refused journal_mode={mode} on '{path}': {reason}; to convert it deliberately, \
                     close every other connection to it (a walguard-hold holding it too) and open it as '{uri}'"
                );
                stats::count(Event::RefusedPragma);
                host::log(ffi::SQLITE_ERROR, &format!("walguard: refused journal_mode={mode}, policy {}: '{path}'", self.policy().name()));
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
            let below = host::SqliteString::from_raw(below).filter(|_| rc == ffi::SQLITE_OK);
            let lower_name = match &below {
                Some(name) => String::from_utf8_lossy(name.to_bytes()).into_owned(),
                None => CStr::from_ptr((*self.db.vfs).zName).to_string_lossy().into_owned(),
            };
            *out = host::sqlite_string(&format!("{}/{lower_name}", settings::VFS_NAME.to_string_lossy()));
        }
        ffi::SQLITE_OK
    }
}

impl DbFile {
    /// The salts of the wal-index header as they are now, when region 0 is mapped and its
    /// version is the one walguard knows.
    fn wal_index_salts(&self) -> Option<Salts> {
        if self.wal_index.is_null() {
            return None;
        }
        // Other processes write the header: read it after a full barrier, as SQLite does
        // (`walShmBarrier`), through volatile reads of a copy.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let mut header = [0u8; SALT_OFFSET + 8];
        for (i, byte) in header.iter_mut().enumerate() {
            // SAFETY: region 0 is a mapping of 32 KiB (WALINDEX_PGSZ), which the lower VFS keeps
            // until xShmUnmap, and `shm_unmap` clears the pointer before that.
            *byte = unsafe { ptr::read_volatile(self.wal_index.add(i)) };
        }
        ResetGuard::salts(&header)
    }

    fn path_lossy(&self) -> String {
        // SAFETY: `path` is the xOpen filename, valid until xClose.
        String::from_utf8_lossy(unsafe { host::bytes(self.path) }.unwrap_or_default()).into_owned()
    }
}

impl Disk for DbFile {
    type Error = c_int;

    /// Read the header on disk now, through the lower file.
    fn database_header(&mut self) -> Result<HeaderFormat, c_int> {
        let mut header = [0u8; HEADER_LEN];
        match self.lower.read_at(&mut header, 0) {
            ffi::SQLITE_OK => Ok(HeaderFormat::parse(&header)),
            ffi::SQLITE_IOERR_SHORT_READ => Ok(HeaderFormat::Absent),
            error => Err(error),
        }
    }

    fn database_page1(&mut self, len: usize) -> Result<Vec<u8>, c_int> {
        let mut page = vec![0u8; len];
        match self.lower.read_at(&mut page, 0) {
            ffi::SQLITE_OK => Ok(page),
            rc => Err(rc),
        }
    }

    /// Is this handle playing back a rollback journal whose page-1 record is exactly `page`?
    /// Only the pager's own journal handle is read, and only while it is open on a file of the
    /// lower VFS: a journal on disk that this pager has not opened (planted beside the file,
    /// or left there while the pager journals in memory or not at all) grants nothing.
    fn journal_restores_page1(&mut self, page: &[u8]) -> bool {
        let Some(journal) = self.journal else { return false };
        // SAFETY: `journal.file` is the pager's journal handle, which SQLite allocates with the
        // pager, together with this database file, so it outlives this guard; SQLite sets its
        // pMethods when it opens it and clears it when it closes it, and serialises both with
        // this write (the pager's own calls).
        let methods = unsafe { (*journal.file).pMethods };
        // SAFETY: a non-null pMethods of an open file is its valid table.
        if methods.is_null() || journal.reads_with.is_none() || !fn_eq(unsafe { (*methods).xRead }, journal.reads_with) {
            return false; // not open, or open as something else (a journal in memory)
        }
        journal_restores_page1(&mut JournalHandle { file: journal.file, methods }, page)
    }
}

/// The pager's rollback-journal handle (`Pager.jfd`).
#[derive(Clone, Copy)]
pub struct Journal {
    pub file: *mut ffi::sqlite3_file,
    /// How a journal file of the lower VFS reads: a handle open with another `xRead` is not one
    /// (SQLite's journal in memory, `journal_mode=MEMORY`).
    pub reads_with: Read,
}

/// Are two optional `xRead`s the same function?
fn fn_eq(a: Read, b: Read) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => ptr::fn_addr_eq(a, b),
        _ => false,
    }
}

/// An `xRead`, as the bindings spell it.
pub type Read = Option<unsafe extern "C" fn(*mut ffi::sqlite3_file, *mut c_void, c_int, ffi::sqlite3_int64) -> c_int>;

/// Reads of an open journal through its own table.
struct JournalHandle {
    file: *mut ffi::sqlite3_file,
    methods: *const ffi::sqlite3_io_methods,
}

impl JournalSource for JournalHandle {
    fn size(&mut self) -> Option<u64> {
        let mut size: ffi::sqlite3_int64 = 0;
        // SAFETY: the file is open with `methods` (checked by the caller); `size` is a valid
        // out-parameter.
        let rc = unsafe { (*self.methods).xFileSize?(self.file, &mut size) };
        (rc == ffi::SQLITE_OK).then(|| u64::try_from(size).ok()).flatten()
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> bool {
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), c_int::try_from(buf.len())) else { return false };
        // SAFETY: the file is open with `methods`; `buf` holds `len` bytes.
        unsafe { (*self.methods).xRead.is_some_and(|read| read(self.file, buf.as_mut_ptr().cast(), len, offset) == ffi::SQLITE_OK) }
    }
}
