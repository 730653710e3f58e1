//! The guard of one main database file: both layers, between the hooks and the core.
//!
//! The hooks (`file.rs`, `wal_file.rs`) let everything through to the lower file and call in
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

use std::ffi::{CStr, c_int};
use std::sync::Arc;

use libsqlite3_sys as ffi;
use walguard_core::checkpoint::CheckpointSignal;
use walguard_core::header::HEADER_LEN;
use walguard_core::journal::{JournalSource, journal_restores_page1};
use walguard_core::settings;
use walguard_core::wal_reset::{LockVerdict, ResetGuard, SALT_OFFSET, SHM_EXCLUSIVE, SHM_LOCK, SHM_UNLOCK};
use walguard_core::{
    Disk, FileGuard, HeaderFormat, JournalModeRequest, Policy, PragmaContext, PragmaVerdict, Refusal, Verdict, decide_pragma,
    is_journal_mode_pragma, resolve_journal_mode,
};

use crate::stats::{self, Event};

use crate::companions::Registration;
use crate::loader::Loader;
use crate::wrap::io::{Answer, ConnectionSlot, Pragma};
use crate::wrap::lower::{ForeignFile, LowerFile, WalIndex};
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
    /// A database opened through walguard, while it is open: where its journal and WAL find it.
    pub companions: Option<Registration>,
}

/// How a guarded file finds the connection that uses it.
pub enum Connection {
    Unknown,
    /// `SQLITE_FCNTL_PDB`: the btree's connection slot, which SQLite points at the connection
    /// in use (`sqlite3BtreeEnter`) before it sends the file a file-control.
    Slot(ConnectionSlot),
    /// The connection that loaded walguard and adopted the file, while it is open.
    Loader(Arc<Loader>),
}

/// A guarded database file as the lower VFS opened it: what the state machine asks of the
/// disk is answered through it.
pub struct DbFile {
    /// The guarded file itself, with the lower io methods.
    pub lower: LowerFile,
    /// The name of the VFS that opened the file, for `SQLITE_FCNTL_VFSNAME`.
    vfs_name: &'static CStr,
    /// The database's name as SQLite passed it to `xOpen`.
    path: Box<[u8]>,
    /// The pager's rollback-journal handle, once walguard has seen it (`Guard::journal_opened`).
    journal: Option<ForeignFile>,
}

impl Guard {
    /// The guard of `lower`, opened by the VFS named `vfs_name` under the name `path`.
    pub fn new(lower: LowerFile, vfs_name: &'static CStr, path: &[u8], policy: Policy) -> Guard {
        Guard {
            db: DbFile { lower, vfs_name, path: path.into(), journal: None },
            state: FileGuard::new(policy, CheckpointSignal::for_host(host::libversion_number())),
            connection: Connection::Unknown,
            cannot_write: false,
            reset: ResetGuard::default(),
            reset_fix: config::wal_reset_fix(),
            filesystem_checked: false,
            companions: None,
        }
    }

    /// An exclusive lock or unlock the WAL-reset salt check follows (`ResetGuard::tracks`): the
    /// lower lock first, then the salt check decides whether a checkpoint may go on (when it
    /// may not, the lock is released again and the call answers `SQLITE_BUSY`).
    #[inline(never)]
    pub fn shm_lock_tracked(&mut self, lower: &LowerFile, wal_index: &WalIndex, offset: c_int, n: c_int, flags: c_int) -> c_int {
        let rc = lower.shm_lock(offset, n, flags);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if flags & SHM_UNLOCK != 0 {
            self.state.shm_lock(offset, n, SHM_UNLOCK | SHM_EXCLUSIVE);
            self.reset.unlocked(offset, n);
            return rc;
        }
        self.shm_locked_exclusive(lower, wal_index, offset, n).err().unwrap_or(rc)
    }

    /// An exclusive `xShmLock` was granted: the salt check decides whether a checkpoint may go
    /// on. `Err` is the code the lock call answers instead (the lock released again).
    fn shm_locked_exclusive(&mut self, lower: &LowerFile, wal_index: &WalIndex, offset: c_int, n: c_int) -> Result<(), c_int> {
        self.state.shm_lock(offset, n, SHM_LOCK | SHM_EXCLUSIVE);
        if !self.reset_fix {
            return Ok(()); // watched for the checkpoint only (a host older than 3.32.0)
        }
        match self.reset.locked(offset, n, || wal_index.header::<{ SALT_OFFSET + 8 }>().and_then(|header| ResetGuard::salts(&header))) {
            LockVerdict::Keep => Ok(()),
            LockVerdict::HoldBack => {
                // Release the lock the lower xShmLock just granted.
                lower.shm_lock(offset, n, SHM_UNLOCK | SHM_EXCLUSIVE);
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

    /// Does the salt check follow this `xShmLock` call?
    #[inline(always)]
    pub fn reset_tracks(&self, offset: c_int, n: c_int, flags: c_int) -> bool {
        self.reset.tracks(offset, n, flags)
    }

    /// The pager of this file opened its rollback journal (through walguard's VFS), or, for a
    /// file adopted at load, has the journal handle `journal` (`SQLITE_FCNTL_JOURNAL_POINTER`).
    pub fn journal_opened(&mut self, journal: ForeignFile) {
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
    pub fn connection_slot(&mut self, slot: ConnectionSlot) {
        if matches!(self.connection, Connection::Unknown) {
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
            Connection::Slot(slot) => Some(unsafe { slot.connection() }).filter(|db| !db.is_null()).map(|db| unsafe {
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
    #[inline(always)]
    pub fn file_control_event(&mut self, op: c_int) {
        self.state.file_control(op);
    }

    /// Should the wal-index's methods be watched (`FileGuard::watches_shm`)?
    pub fn watches_shm(&self) -> bool {
        self.state.watches_shm(self.reset_fix)
    }

    fn path_lossy(&self) -> String {
        self.db.path_lossy()
    }

    /// The database's name as SQLite passed it to `xOpen`.
    pub fn path_bytes(&self) -> &[u8] {
        &self.db.path
    }

    /// Layer 2 for a write of `data` at `offset` of the database file
    /// (`FileGuard::database_write`). `Err` carries the code the write fails with.
    #[inline(never)]
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
    #[inline(always)]
    fn report(&mut self, verdict: Verdict) -> Result<(), c_int> {
        match verdict {
            Verdict::Pass | Verdict::Restore => Ok(()), // the common case, with nothing to say
            notable => self.report_notable(notable),
        }
    }

    #[cold]
    #[inline(never)]
    fn report_notable(&mut self, verdict: Verdict) -> Result<(), c_int> {
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

    /// `SQLITE_FCNTL_PRAGMA`: `PRAGMA walguard`, and layer 1 for `journal_mode`; any other
    /// pragma goes to the lower file.
    #[cold]
    #[inline(never)]
    pub fn pragma(&mut self, pragma: Pragma<'_>) -> Answer {
        let (name, value) = (pragma.name(), pragma.value());
        let (rc, answer) = if name.eq_ignore_ascii_case(b"walguard") {
            self.walguard_pragma(value)
        } else if is_journal_mode_pragma(name) {
            let Some(answer) = self.journal_mode_pragma(value) else { return Answer::Forward };
            answer
        } else {
            return Answer::Forward;
        };
        pragma.answer(rc, &answer)
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
                let uri = settings::deliberate_uri(&self.db.path);
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
    #[cold]
    #[inline(never)]
    pub fn vfs_name(&self, lower: &LowerFile) -> String {
        let below = lower.vfs_name().unwrap_or_else(|| self.db.vfs_name.to_string_lossy().into_owned());
        format!("{}/{below}", settings::VFS_NAME.to_string_lossy())
    }
}

impl DbFile {
    fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
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
        let Some(journal) = self.journal.as_ref().and_then(ForeignFile::if_open) else {
            return false; // not open, or open as something else (a journal in memory)
        };
        journal_restores_page1(&mut JournalFile(journal), page)
    }
}

/// Reads of an open journal through its own table.
struct JournalFile(LowerFile);

impl JournalSource for JournalFile {
    fn size(&mut self) -> Option<u64> {
        self.0.size()
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> bool {
        i64::try_from(offset).is_ok_and(|offset| self.0.read_at(buf, offset) == ffi::SQLITE_OK)
    }
}
