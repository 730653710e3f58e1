//! Layer 2: the header guard of one database file, as a state machine with no FFI.
//!
//! ## The rule
//! A write that leaves the header's read version (byte 19) at anything but 2, over a database
//! file whose read version *on disk now* is 2, is refused, unless it is provably a restore:
//! - a rollback journal of this database, on disk now, holds a page-1 record that SQLite would
//!   play back (checksums valid) and that is byte-identical to the page being written (the
//!   rollback of a switch to WAL, in-process or as a hot journal after a crash); or
//! - this file handle itself, in the transaction under way, wrote the WAL header over a
//!   rollback header, and the page being written is byte-identical to the page 1 that write
//!   replaced (the rollback of a transaction whose journal is in memory: `journal_mode=MEMORY`,
//!   where a backup from a WAL database copies its `2,2` header into a rollback database). The
//!   remembered page is forgotten at the transaction's end (commit, or the lock's release):
//!   while the handle held its write lock nobody else could see the WAL header, so putting the
//!   old page back only undoes this transaction.
//!
//! Writes of a WAL page-1 frame are held to the same rule, without the restore exceptions: no
//! transaction that leaves WAL writes through a WAL.
//!
//! ## Why nothing remembered can grant a write
//! [`FileGuard::decide`] asks the [`Disk`] for the database header every time a write puts
//! anything but 2 at byte 19, and for the journal every time that header says 2. Of its state
//! ([`FileGuard`]'s fields), one part only decides what is *logged* (whether a downgrade the
//! pragma layer already reported is reported again, whether the WAL is known to be poisoned);
//! the other, the page this handle replaced, grants exactly one write: that page, byte for
//! byte, back over the WAL header the same handle wrote in the same transaction, while the
//! header on disk still says WAL. No flag grants anything, and no state outlives the
//! transaction that made it. Earlier versions remembered the header across calls and
//! remembered an "uncommitted switch" flag; both could be stale (page 1 served from the WAL, a
//! checkpoint's page-1 write read as a switch, an adoption in the middle of a transaction) and
//! granted real downgrades. `tests/model.rs` replays random interleavings against this guard
//! and against that older design: the older one is caught, this one is not; remembering the
//! replaced page for a checkpoint's copy or a journal playback is caught too.
//!
//! ## The fast path
//! A write that leaves 2 at byte 19, or does not cover byte 19, needs no decision: it cannot
//! take the file out of WAL, whatever the disk says. That is every write of a page other than
//! page 1, every WAL-mode commit, and every checkpoint. Only a write that puts another byte at
//! 19 (every rollback-mode commit) costs one header read, and so does a whole page 1 that puts
//! 2 there outside a checkpoint (a switch to WAL, a backup from a WAL database into a
//! rollback one), to know whether it replaces a rollback header
//! ([`FileGuard::wal_header_write`]).

use crate::checkpoint::{CheckpointEvent, CheckpointSignal, FCNTL_CKPT_DONE, FCNTL_CKPT_START};
use crate::header::{HEADER_LEN, HeaderFormat, READ_VERSION_OFFSET, WAL_READ_VERSION, written_read_version};
use crate::policy::Policy;

/// `SQLITE_FCNTL_COMMIT_PHASETWO` (sqlite3.h): the commit of a transaction.
pub const FCNTL_COMMIT_PHASETWO: i32 = 22;

/// The file a guarded write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The database file itself: a rollback-mode commit, a checkpoint, a journal playback.
    Database,
    /// A page-1 frame of the database's WAL file.
    WalFrame,
}

/// What the guard asks of the disk. Called only for writes that could downgrade.
pub trait Disk {
    type Error;
    /// The database file's header as it is on disk now (not as any cache remembers it).
    fn database_header(&mut self) -> Result<HeaderFormat, Self::Error>;
    /// Does a rollback journal of this database, on disk now, hold a page-1 record that a
    /// playback would write, byte-identical to `page`?
    fn journal_restores_page1(&mut self, page: &[u8]) -> bool;
    /// The first `len` bytes of the database file (page 1) as they are on disk now.
    fn database_page1(&mut self, len: usize) -> Result<Vec<u8>, Self::Error>;
}

/// Why a write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A page 1 that leaves WAL, written to the database file outside a checkpoint.
    Downgrade,
    /// A checkpoint copying a WAL page 1 that leaves WAL: the WAL is poisoned (written by a
    /// process without walguard, or by a raw page writer such as `sqlite_dbpage`).
    PoisonedCheckpoint,
    /// A page-1 frame that leaves WAL, written to the WAL file.
    WalFrame,
}

/// What happens to a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It cannot leave WAL: it goes through, nothing to say.
    Pass,
    /// It leaves WAL but puts back a journal's page 1 (a rollback or a hot-journal playback of
    /// a switch to WAL): it goes through.
    Restore,
    /// It fails.
    Refuse(Refusal),
    /// It leaves WAL and goes through under policy `warn`; `report` says whether to log and
    /// count it (false when the pragma layer already did for this transaction).
    Warned { report: bool },
    /// It leaves WAL and goes through under policy `off`; `report` as for `Warned`.
    Deliberate { report: bool },
}

/// The per-file state of the header guard.
#[derive(Clone, Debug)]
pub struct FileGuard {
    policy: Policy,
    /// Where this host's checkpoints show.
    checkpoints: CheckpointSignal,
    /// Between `SQLITE_FCNTL_CKPT_START` and `SQLITE_FCNTL_CKPT_DONE`: database writes are
    /// copies of WAL frames.
    checkpointing: bool,
    /// This checkpoint refused a write.
    checkpoint_refused: bool,
    /// The last checkpoint that ended was refused a page 1 (reported by `PRAGMA walguard`).
    wal_poisoned: bool,
    /// The pragma layer let a downgrade through (warn, off) and reported it; the next header
    /// decision is the same event and is not reported again. Affects logging only.
    downgrade_reported: bool,
    /// The page 1 this handle replaced with a WAL header in the transaction under way.
    overwritten: Option<Vec<u8>>,
}

impl FileGuard {
    /// The guard of a file under `policy`, on a host whose checkpoints show as `checkpoints`.
    pub fn new(policy: Policy, checkpoints: CheckpointSignal) -> FileGuard {
        FileGuard {
            policy,
            checkpoints,
            checkpointing: false,
            checkpoint_refused: false,
            wal_poisoned: false,
            downgrade_reported: false,
            overwritten: None,
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Does the last completed checkpoint say the WAL holds a page 1 that leaves WAL?
    pub fn wal_poisoned(&self) -> bool {
        self.wal_poisoned
    }

    /// Can a write at `offset` concern layer 2 at all? Only one that covers byte 19 can: the
    /// shell passes every other write straight to the lower file (the hot path).
    #[inline(always)]
    pub fn may_concern_header(offset: i64) -> bool {
        offset <= READ_VERSION_OFFSET as i64
    }

    /// Layer 2 for a write of `data` at `offset` of the database file, the whole sequence: a
    /// whole page 1 putting a WAL header over a rollback one is noted for its transaction's
    /// rollback; a write leaving anything but 2 at byte 19 is decided (only a whole page 1 can
    /// be a journal's playback); any other write passes.
    pub fn database_write<D: Disk>(&mut self, offset: i64, data: &[u8], disk: &mut D) -> Result<Verdict, D::Error> {
        let written = written_read_version(offset, data);
        if Self::may_switch_to_wal(offset, data.len(), written) {
            // A failed read only means a rollback's write of that page is refused later, never
            // wrongly allowed: not the write's error.
            let _ = self.wal_header_write(data, disk);
            return Ok(Verdict::Pass);
        }
        if !Self::needs_decision(written) {
            return Ok(Verdict::Pass);
        }
        let page = (offset == 0 && data.len() >= HEADER_LEN).then_some(data);
        self.decide(Target::Database, written.unwrap_or_default(), page, disk)
    }

    /// Layer 2 for a page-1 frame written to the WAL that puts `written` at byte 19 of page 1
    /// (`crate::wal::FrameTracker` finds them).
    pub fn wal_frame_page1<D: Disk>(&mut self, written: u8, disk: &mut D) -> Result<Verdict, D::Error> {
        self.decide(Target::WalFrame, written, None, disk)
    }

    /// A file-control sent to the database file. Three are events: a checkpoint's start or end
    /// (on hosts that show them so) and the commit of a transaction; every other returns at
    /// once (the shell passes them all: the hot path).
    #[inline(always)]
    pub fn file_control(&mut self, op: i32) {
        if matches!(op, FCNTL_COMMIT_PHASETWO | FCNTL_CKPT_START | FCNTL_CKPT_DONE) {
            self.file_control_event(op);
        }
    }

    #[inline(never)]
    fn file_control_event(&mut self, op: i32) {
        if op == FCNTL_COMMIT_PHASETWO {
            self.transaction_ended();
        }
        self.checkpoint_event(self.checkpoints.on_file_control(op));
    }

    /// An exclusive `xShmLock(offset, n, flags)` the lower file granted or released: a
    /// checkpoint's start or end on hosts older than 3.32.0.
    pub fn shm_lock(&mut self, offset: i32, n: i32, flags: i32) {
        self.checkpoint_event(self.checkpoints.on_shm_lock(offset, n, flags));
    }

    /// `xUnlock`: the transaction ended, committed or not.
    pub fn unlocked(&mut self) {
        self.transaction_ended();
    }

    /// Does the shell need to see the wal-index's locks: for the WAL-reset salt check when it is
    /// on, and on hosts whose checkpoints show there?
    pub fn watches_shm(&self, wal_reset_fix: bool) -> bool {
        wal_reset_fix || self.checkpoints == CheckpointSignal::CheckpointLock
    }

    fn checkpoint_event(&mut self, event: Option<CheckpointEvent>) {
        match event {
            Some(CheckpointEvent::Started) => self.checkpoint_started(),
            Some(CheckpointEvent::Done) => self.checkpoint_done(),
            None => {}
        }
    }

    /// Does a write that puts `written` at byte 19 need [`decide`](Self::decide)? `None` when
    /// the write does not cover byte 19.
    #[inline(always)]
    fn needs_decision(written: Option<u8>) -> bool {
        written.is_some_and(|byte| byte != WAL_READ_VERSION)
    }

    /// Is a write of `len` bytes at `offset` that puts `written` at byte 19 one that may replace a
    /// rollback header with a WAL header (a whole page 1 putting 2)? The caller then reads the
    /// header on disk and, when it is a rollback header, hands the page being replaced to
    /// [`wrote_wal_header_over`](Self::wrote_wal_header_over) before the write.
    #[inline(always)]
    fn may_switch_to_wal(offset: i64, len: usize, written: Option<u8>) -> bool {
        offset == 0 && len >= HEADER_LEN && written == Some(WAL_READ_VERSION)
    }

    /// A whole `page` 1 with a WAL header is about to be written to the database file (see
    /// [`may_switch_to_wal`](Self::may_switch_to_wal)). When it replaces a rollback header in a
    /// transaction of this handle, keep the page it replaces, for that transaction's rollback.
    /// Not when it is a checkpoint's copy, nor a journal playback putting a WAL header back:
    /// those are not this handle's transaction, and what they replace is no original to restore
    /// (the model test finds the downgrades that remembering them would let through).
    fn wal_header_write<D: Disk>(&mut self, page: &[u8], disk: &mut D) -> Result<(), D::Error> {
        if self.checkpointing || self.overwritten.is_some() || disk.database_header()? != HeaderFormat::Rollback {
            return Ok(());
        }
        if disk.journal_restores_page1(page) {
            return Ok(());
        }
        self.overwritten = Some(disk.database_page1(page.len())?);
        Ok(())
    }

    /// The transaction ended (committed, or the handle's lock released).
    fn transaction_ended(&mut self) {
        self.overwritten = None;
    }

    /// Decide a write that puts `written` (not 2) at byte 19 of `target`. `page` is the whole
    /// page 1 being written to the database file, when the write is one (the only shape a
    /// journal playback writes), for the restore check.
    fn decide<D: Disk>(&mut self, target: Target, written: u8, page: Option<&[u8]>, disk: &mut D) -> Result<Verdict, D::Error> {
        if written == WAL_READ_VERSION || disk.database_header()? != HeaderFormat::Wal {
            return Ok(Verdict::Pass);
        }
        if target == Target::Database && page.is_some() && page == self.overwritten.as_deref() {
            self.overwritten = None;
            return Ok(Verdict::Restore);
        }
        if target == Target::Database && page.is_some_and(|p| disk.journal_restores_page1(p)) {
            return Ok(Verdict::Restore);
        }
        let report = !std::mem::take(&mut self.downgrade_reported);
        Ok(match self.policy {
            Policy::Off => Verdict::Deliberate { report },
            Policy::Warn => Verdict::Warned { report },
            Policy::Enforce | Policy::Keep | Policy::Strict => {
                let refusal = match target {
                    Target::WalFrame => Refusal::WalFrame,
                    Target::Database if self.checkpointing => Refusal::PoisonedCheckpoint,
                    Target::Database => Refusal::Downgrade,
                };
                self.checkpoint_refused |= refusal == Refusal::PoisonedCheckpoint;
                Verdict::Refuse(refusal)
            }
        })
    }

    /// The pragma layer let a downgrade through and reported it (policies warn and off).
    pub fn downgrade_reported_by_pragma(&mut self) {
        self.downgrade_reported = true;
    }

    /// A checkpoint started copying WAL frames.
    fn checkpoint_started(&mut self) {
        self.checkpointing = true;
        self.checkpoint_refused = false;
    }

    /// The checkpoint ended (`SQLITE_FCNTL_CKPT_DONE` is sent whether it succeeded or not).
    fn checkpoint_done(&mut self) {
        self.checkpointing = false;
        self.wal_poisoned = std::mem::take(&mut self.checkpoint_refused);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk whose answers are fixed, counting how often it is asked.
    struct FixedDisk {
        header: HeaderFormat,
        restores: bool,
        header_reads: usize,
        journal_reads: usize,
    }

    impl FixedDisk {
        fn new(header: HeaderFormat, restores: bool) -> FixedDisk {
            FixedDisk { header, restores, header_reads: 0, journal_reads: 0 }
        }
    }

    impl Disk for FixedDisk {
        type Error = ();
        fn database_header(&mut self) -> Result<HeaderFormat, ()> {
            self.header_reads += 1;
            Ok(self.header)
        }
        fn journal_restores_page1(&mut self, _page: &[u8]) -> bool {
            self.journal_reads += 1;
            self.restores
        }
        fn database_page1(&mut self, len: usize) -> Result<Vec<u8>, ()> {
            let mut page = vec![0u8; len];
            page[19] = if self.header == HeaderFormat::Wal { 2 } else { 1 };
            Ok(page)
        }
    }

    const PAGE: &[u8] = &[0; 512];

    fn new_guard(policy: Policy) -> FileGuard {
        FileGuard::new(policy, CheckpointSignal::FileControls)
    }

    #[test]
    fn only_writes_leaving_two_at_byte_19_are_decided() {
        assert!(!FileGuard::needs_decision(None));
        assert!(!FileGuard::needs_decision(Some(2)));
        for byte in [0, 1, 3, 255] {
            assert!(FileGuard::needs_decision(Some(byte)));
        }
    }

    #[test]
    fn the_disk_is_asked_every_time() {
        let mut guard = new_guard(Policy::Enforce);
        let mut disk = FixedDisk::new(HeaderFormat::Rollback, false);
        for _ in 0..3 {
            assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Pass));
        }
        assert_eq!(disk.header_reads, 3, "no answer is remembered");
        disk.header = HeaderFormat::Wal;
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(disk.journal_reads, 1);
    }

    #[test]
    fn read_version_zero_is_a_downgrade_too() {
        let mut guard = new_guard(Policy::Enforce);
        let mut disk = FixedDisk::new(HeaderFormat::Wal, false);
        assert_eq!(guard.decide(Target::Database, 0, Some(PAGE), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(guard.decide(Target::WalFrame, 0, None, &mut disk), Ok(Verdict::Refuse(Refusal::WalFrame)));
    }

    #[test]
    fn a_journal_restore_passes_on_the_database_only() {
        let mut guard = new_guard(Policy::Strict);
        let mut disk = FixedDisk::new(HeaderFormat::Wal, true);
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Restore));
        // A partial write is never a playback.
        assert_eq!(guard.decide(Target::Database, 1, None, &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(guard.decide(Target::WalFrame, 1, Some(PAGE), &mut disk), Ok(Verdict::Refuse(Refusal::WalFrame)));
    }

    #[test]
    fn non_wal_disks_pass_without_the_journal() {
        let mut guard = new_guard(Policy::Strict);
        for header in [HeaderFormat::Absent, HeaderFormat::Rollback, HeaderFormat::Other] {
            let mut disk = FixedDisk::new(header, false);
            assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Pass));
            assert_eq!(guard.decide(Target::WalFrame, 1, None, &mut disk), Ok(Verdict::Pass));
            assert_eq!(disk.journal_reads, 0);
        }
    }

    #[test]
    fn disk_errors_fail_the_write() {
        struct Broken;
        impl Disk for Broken {
            type Error = i32;
            fn database_header(&mut self) -> Result<HeaderFormat, i32> {
                Err(266)
            }
            fn journal_restores_page1(&mut self, _: &[u8]) -> bool {
                unreachable!()
            }
            fn database_page1(&mut self, _: usize) -> Result<Vec<u8>, i32> {
                unreachable!()
            }
        }
        assert_eq!(new_guard(Policy::Enforce).decide(Target::Database, 1, Some(PAGE), &mut Broken), Err(266));
    }

    #[test]
    fn policies() {
        let verdict = |policy| new_guard(policy).decide(Target::Database, 1, Some(PAGE), &mut FixedDisk::new(HeaderFormat::Wal, false));
        assert_eq!(verdict(Policy::Enforce), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(verdict(Policy::Keep), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(verdict(Policy::Strict), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(verdict(Policy::Warn), Ok(Verdict::Warned { report: true }));
        assert_eq!(verdict(Policy::Off), Ok(Verdict::Deliberate { report: true }));
    }

    #[test]
    fn a_downgrade_the_pragma_reported_is_reported_once() {
        let mut guard = new_guard(Policy::Warn);
        let mut disk = FixedDisk::new(HeaderFormat::Wal, false);
        guard.downgrade_reported_by_pragma();
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Warned { report: false }));
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Warned { report: true }));
        // Under enforce the flag changes nothing: a refusal is a refusal.
        let mut guard = new_guard(Policy::Enforce);
        guard.downgrade_reported_by_pragma();
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
    }

    #[test]
    fn a_handle_may_put_back_exactly_the_page_it_replaced_in_the_same_transaction() {
        let mut wal_page = PAGE.to_vec();
        wal_page[19] = 2;
        let mut original = PAGE.to_vec();
        original[19] = 1;
        assert!(FileGuard::may_switch_to_wal(0, 512, Some(2)));
        assert!(!FileGuard::may_switch_to_wal(0, 512, Some(1)));
        assert!(!FileGuard::may_switch_to_wal(512, 512, Some(2)));
        let mut guard = new_guard(Policy::Enforce);
        // The switch: the disk says rollback, no journal holds the WAL page.
        let mut disk = FixedDisk::new(HeaderFormat::Rollback, false);
        guard.wal_header_write(&wal_page, &mut disk).unwrap();
        disk.header = HeaderFormat::Wal;
        // Not the same bytes: refused.
        let mut other = original.clone();
        other[40] ^= 1;
        assert_eq!(guard.decide(Target::Database, 1, Some(&other), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        // Never through the WAL.
        assert_eq!(guard.decide(Target::WalFrame, 1, Some(&original), &mut disk), Ok(Verdict::Refuse(Refusal::WalFrame)));
        // The same bytes: the rollback, once.
        assert_eq!(guard.decide(Target::Database, 1, Some(&original), &mut disk), Ok(Verdict::Restore));
        assert_eq!(guard.decide(Target::Database, 1, Some(&original), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        // Forgotten at the end of the transaction.
        disk.header = HeaderFormat::Rollback;
        guard.wal_header_write(&wal_page, &mut disk).unwrap();
        guard.transaction_ended();
        disk.header = HeaderFormat::Wal;
        assert_eq!(guard.decide(Target::Database, 1, Some(&original), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
    }

    #[test]
    fn checkpoints_and_playbacks_are_not_the_handles_switch() {
        let mut wal_page = PAGE.to_vec();
        wal_page[19] = 2;
        let mut original = PAGE.to_vec();
        original[19] = 1;
        // A checkpoint copying a WAL header over a rollback one.
        let mut guard = new_guard(Policy::Enforce);
        let mut disk = FixedDisk::new(HeaderFormat::Rollback, false);
        guard.checkpoint_started();
        guard.wal_header_write(&wal_page, &mut disk).unwrap();
        guard.checkpoint_done();
        disk.header = HeaderFormat::Wal;
        assert_eq!(guard.decide(Target::Database, 1, Some(&original), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        // A hot journal putting a WAL header back (an interrupted conversion rolled back).
        let mut guard = new_guard(Policy::Enforce);
        let mut disk = FixedDisk::new(HeaderFormat::Rollback, true);
        guard.wal_header_write(&wal_page, &mut disk).unwrap();
        disk.header = HeaderFormat::Wal;
        disk.restores = false;
        assert_eq!(guard.decide(Target::Database, 1, Some(&original), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
    }

    /// The whole sequence as the extension calls it: only writes covering byte 19 reach the
    /// disk, only a write of at least a header at offset 0 can be a playback, and a WAL header
    /// over a rollback one is noted for the rollback of the same transaction.
    #[test]
    fn database_write_runs_the_whole_sequence() {
        let mut guard = new_guard(Policy::Enforce);
        let mut disk = FixedDisk::new(HeaderFormat::Wal, true);
        assert!(FileGuard::may_concern_header(0) && FileGuard::may_concern_header(19) && !FileGuard::may_concern_header(20));
        assert_eq!(guard.database_write(512, &[1; 512], &mut disk), Ok(Verdict::Pass));
        assert_eq!(guard.database_write(0, &[0; 18], &mut disk), Ok(Verdict::Pass), "short of byte 19");
        assert_eq!(disk.header_reads, 0, "nothing that leaves byte 19 alone reads the disk");
        // Covering byte 19 but shorter than a header: never a playback, whatever the journal holds.
        assert_eq!(guard.database_write(0, &[1; 20], &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        assert_eq!(disk.journal_reads, 0);
        assert_eq!(guard.database_write(0, &[1; 512], &mut disk), Ok(Verdict::Restore));
        // A switch to WAL, then its rollback, in one transaction; not after the commit.
        let mut wal_page = PAGE.to_vec();
        wal_page[19] = 2;
        let mut disk = FixedDisk::new(HeaderFormat::Rollback, false);
        let original = disk.database_page1(512).unwrap();
        assert_eq!(guard.database_write(0, &wal_page, &mut disk), Ok(Verdict::Pass));
        disk.header = HeaderFormat::Wal;
        assert_eq!(guard.database_write(0, &original, &mut disk), Ok(Verdict::Restore));
        disk.header = HeaderFormat::Rollback;
        assert_eq!(guard.database_write(0, &wal_page, &mut disk), Ok(Verdict::Pass));
        guard.file_control(FCNTL_COMMIT_PHASETWO);
        disk.header = HeaderFormat::Wal;
        assert_eq!(guard.database_write(0, &original, &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
    }

    /// The shell passes every file-control: only a commit ends the transaction (a journal in
    /// memory may restore the replaced page until then), and no other op does.
    #[test]
    fn only_the_commit_file_control_ends_a_transaction() {
        let mut wal_page = PAGE.to_vec();
        wal_page[19] = 2;
        for op in 0..64 {
            let mut guard = new_guard(Policy::Enforce);
            let mut disk = FixedDisk::new(HeaderFormat::Rollback, false);
            let original = disk.database_page1(512).unwrap();
            assert_eq!(guard.database_write(0, &wal_page, &mut disk), Ok(Verdict::Pass));
            guard.file_control(op);
            disk.header = HeaderFormat::Wal;
            let expected = if op == FCNTL_COMMIT_PHASETWO { Verdict::Refuse(Refusal::Downgrade) } else { Verdict::Restore };
            assert_eq!(guard.database_write(0, &original, &mut disk), Ok(expected), "op {op}");
        }
    }

    #[test]
    fn a_refused_checkpoint_marks_the_wal_poisoned_until_one_succeeds() {
        let mut guard = new_guard(Policy::Enforce);
        let mut disk = FixedDisk::new(HeaderFormat::Wal, false);
        guard.checkpoint_started();
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Refuse(Refusal::PoisonedCheckpoint)));
        assert!(!guard.wal_poisoned(), "known when the checkpoint ends");
        guard.checkpoint_done();
        assert!(guard.wal_poisoned());
        assert_eq!(guard.decide(Target::Database, 1, Some(PAGE), &mut disk), Ok(Verdict::Refuse(Refusal::Downgrade)));
        guard.checkpoint_started();
        guard.checkpoint_done();
        assert!(!guard.wal_poisoned());
    }
}
