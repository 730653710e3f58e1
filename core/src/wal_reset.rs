//! The WAL-reset bug's mitigation: a salt check on checkpoints, decided here without FFI.
//!
//! SQLite 3.7.0 to 3.51.2 can corrupt a WAL database when a writer resets the WAL (new salts,
//! frames from the start) between a PASSIVE checkpointer's read of the wal-index header and
//! its copy of the frames: the checkpointer copies up to its stale `mxFrame` from the new
//! generation and publishes `nBackfill` past the frames it never copied. The upstream fix
//! (3.51.3) compares the live salts with the ones the checkpointer read, once it holds
//! READ_LOCK(0) exclusively, and copies nothing when they differ.
//!
//! A VFS sees the same moments as `xShmLock` calls, so this machine does the same: it records
//! the salts of the wal-index header when the connection takes the CKPT lock, and when the
//! same connection then takes READ_LOCK(0) exclusively while it holds CKPT but not WRITE (a
//! checkpointer that is not also the writer, so a reset could have happened under it), it
//! compares the live salts with the recorded ones. When they differ it answers
//! [`LockVerdict::HoldBack`]: the caller releases READ_LOCK(0) and returns `SQLITE_BUSY`, which
//! `walCheckpoint` reads as "readers present" and answers `SQLITE_OK` having copied nothing,
//! exactly as 3.51.3 does. While READ_LOCK(0) is held exclusively no reset can start (a reset
//! needs READ_LOCK(0) shared), so a check that passes stays true for the whole copy.
//!
//! Salts recorded at the CKPT lock are at least as old as the ones the checkpointer reads
//! after it, so a reset between the two makes the check hold back a checkpoint that was in fact
//! safe: the next one copies the frames. It never lets an unsafe one through.

/// `xShmLock` flags (sqlite3.h).
pub const SHM_UNLOCK: i32 = 1;
pub const SHM_LOCK: i32 = 2;
pub const SHM_SHARED: i32 = 4;
pub const SHM_EXCLUSIVE: i32 = 8;

/// Lock slots (wal.c): WRITE, CKPT, RECOVER, then READ_LOCK(0..5).
pub const WRITE_LOCK: i32 = 0;
pub const CKPT_LOCK: i32 = 1;
pub const READ_LOCK_0: i32 = 3;

/// The wal-index header: `iVersion` at offset 0, `aSalt` at offset 32 (`WalIndexHdr`).
pub const WAL_INDEX_VERSION: u32 = 3007000;
pub const SALT_OFFSET: usize = 32;

/// The 8 salt bytes of a wal-index header.
pub type Salts = [u8; 8];

/// What to do after a successful exclusive `xShmLock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockVerdict {
    /// Keep the lock.
    Keep,
    /// The WAL was reset under this checkpointer: release READ_LOCK(0), answer `SQLITE_BUSY`.
    HoldBack,
}

/// The salt check of one connection's database file.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResetGuard {
    /// Salts read when this connection took CKPT, while it holds it (`None`: not held, or the
    /// header was not readable then).
    checkpoint_salts: Option<Salts>,
    holds_checkpoint: bool,
    holds_write: bool,
}

fn covers(offset: i32, n: i32, slot: i32) -> bool {
    offset <= slot && slot < offset + n
}

impl ResetGuard {
    /// Does an `xShmLock` call matter to the check? Exclusive locks and unlocks of CKPT always
    /// do; of WRITE and READ_LOCK(0) only while this connection holds CKPT (a checkpointer).
    /// Shared locks (readers), the other readers' marks and an ordinary writer's WRITE pass
    /// without a look.
    ///
    /// Why skipping a writer's WRITE is sound: `holds_write` only ever skips the comparison,
    /// so it must never be true while WRITE is not held. It is set only while CKPT is held,
    /// cleared by WRITE's release or CKPT's, whichever comes first. A connection that took
    /// WRITE before CKPT (never SQLite's order) would have it false: the comparison then runs,
    /// and passes, since no reset can happen while this connection holds WRITE.
    #[inline(always)]
    pub fn tracks(&self, offset: i32, n: i32, flags: i32) -> bool {
        flags & SHM_EXCLUSIVE != 0
            && (covers(offset, n, CKPT_LOCK) || (self.holds_checkpoint && (offset == WRITE_LOCK || (offset, n) == (READ_LOCK_0, 1))))
    }

    /// Parse the salts out of the first bytes of wal-index region 0, if its version is known.
    pub fn salts(header: &[u8]) -> Option<Salts> {
        let version = u32::from_ne_bytes(header.get(..4)?.try_into().ok()?);
        (version == WAL_INDEX_VERSION).then(|| header.get(SALT_OFFSET..SALT_OFFSET + 8)?.try_into().ok()).flatten()
    }

    /// An exclusive lock was granted (`flags` has `SHM_LOCK | SHM_EXCLUSIVE`). `live` reads the
    /// salts of the wal-index header now; it is called only when they are needed.
    pub fn locked(&mut self, offset: i32, n: i32, live: impl FnOnce() -> Option<Salts>) -> LockVerdict {
        if (offset, n) == (CKPT_LOCK, 1) {
            self.holds_checkpoint = true;
            self.checkpoint_salts = live();
        } else if covers(offset, n, WRITE_LOCK) {
            self.holds_write = self.holds_checkpoint;
        } else if (offset, n) == (READ_LOCK_0, 1) && self.holds_checkpoint && !self.holds_write {
            if let (Some(recorded), Some(now)) = (self.checkpoint_salts, live()) {
                if recorded != now {
                    return LockVerdict::HoldBack;
                }
            }
        }
        LockVerdict::Keep
    }

    /// Locks were released (`flags` has `SHM_UNLOCK | SHM_EXCLUSIVE`).
    pub fn unlocked(&mut self, offset: i32, n: i32) {
        if covers(offset, n, CKPT_LOCK) {
            self.holds_checkpoint = false;
            self.checkpoint_salts = None;
            self.holds_write = false;
        }
        if covers(offset, n, WRITE_LOCK) {
            self.holds_write = false;
        }
    }
}

/// Is SQLite `version` (as `sqlite3_libversion_number`) in the range the bug affects? Distro
/// backports keep the version number, so this says "affected unless patched", and the check
/// runs on every such host.
pub fn affected_version(version: i32) -> bool {
    (3_007_000..3_051_003).contains(&version)
}

/// Is the mitigation on, given the setting (`WALGUARD_WAL_RESET_FIX`) and the host's version?
/// Only where the host may have the bug: from 3.51.3 on SQLite fixed it itself, and walguard
/// leaves the wal-index alone there (nothing to check, nothing to pay).
pub fn mitigation_on(setting: bool, version: i32) -> bool {
    setting && affected_version(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Salts = [1, 2, 3, 4, 5, 6, 7, 8];
    const T: Salts = [2, 2, 3, 4, 9, 9, 9, 9];

    #[test]
    fn a_reset_under_a_passive_checkpointer_holds_it_back() {
        let mut g = ResetGuard::default();
        assert_eq!(g.locked(CKPT_LOCK, 1, || Some(S)), LockVerdict::Keep);
        assert_eq!(g.locked(READ_LOCK_0, 1, || Some(T)), LockVerdict::HoldBack);
        // Unchanged salts: the copy goes on.
        assert_eq!(g.locked(READ_LOCK_0, 1, || Some(S)), LockVerdict::Keep);
        g.unlocked(CKPT_LOCK, 1);
        assert_eq!(g.locked(READ_LOCK_0, 1, || panic!("not a checkpoint")), LockVerdict::Keep);
    }

    #[test]
    fn a_checkpointer_that_holds_write_is_left_alone() {
        let mut g = ResetGuard::default();
        g.locked(CKPT_LOCK, 1, || Some(S));
        g.locked(WRITE_LOCK, 1, || panic!("no salts for WRITE"));
        assert_eq!(g.locked(READ_LOCK_0, 1, || panic!("no check with WRITE held")), LockVerdict::Keep);
        g.unlocked(WRITE_LOCK, 1);
        assert_eq!(g.locked(READ_LOCK_0, 1, || Some(T)), LockVerdict::HoldBack);
    }

    #[test]
    fn other_locks_and_unreadable_headers_change_nothing() {
        let mut g = ResetGuard::default();
        // Recovery takes CKPT..READ_LOCK(4) in one call: not a checkpoint.
        assert_eq!(g.locked(CKPT_LOCK, 7, || panic!()), LockVerdict::Keep);
        assert_eq!(g.locked(READ_LOCK_0, 1, || panic!()), LockVerdict::Keep);
        g.unlocked(CKPT_LOCK, 7);
        g.locked(CKPT_LOCK, 1, || None);
        assert_eq!(g.locked(READ_LOCK_0, 1, || Some(T)), LockVerdict::Keep, "nothing recorded, nothing to compare");
        g.unlocked(0, 8);
        g.locked(CKPT_LOCK, 1, || Some(S));
        assert_eq!(g.locked(READ_LOCK_0 + 1, 1, || panic!()), LockVerdict::Keep, "READ_LOCK(1) is a reader's mark");
    }

    #[test]
    fn only_the_locks_that_matter_are_tracked() {
        let (lock, unlock) = (SHM_LOCK | SHM_EXCLUSIVE, SHM_UNLOCK | SHM_EXCLUSIVE);
        let mut g = ResetGuard::default();
        assert!(g.tracks(CKPT_LOCK, 1, lock));
        assert!(g.tracks(CKPT_LOCK, 7, lock), "recovery's range covers CKPT");
        assert!(!g.tracks(WRITE_LOCK, 1, lock), "an ordinary writer");
        assert!(!g.tracks(READ_LOCK_0, 1, lock), "not a checkpointer");
        g.locked(CKPT_LOCK, 1, || Some(S));
        assert!(g.tracks(WRITE_LOCK, 1, lock));
        assert!(g.tracks(WRITE_LOCK, 1, unlock));
        assert!(g.tracks(READ_LOCK_0, 1, lock));
        assert!(!g.tracks(READ_LOCK_0, 1, SHM_LOCK | SHM_SHARED), "a reader");
        assert!(!g.tracks(READ_LOCK_0 + 1, 1, lock), "a reader's mark");
        assert!(!g.tracks(2, 1, lock), "RECOVER alone");
        assert!(!g.tracks(READ_LOCK_0 + 1, 4, lock), "a reset's READ_LOCK(1..4)");
    }

    proptest::proptest! {
        /// Whatever sequence of lock calls, skipping the untracked ones changes nothing:
        /// the verdicts and the state equal those of a guard that sees every call.
        #[test]
        fn skipping_untracked_calls_changes_nothing(calls in proptest::collection::vec((0i32..8, 1i32..4, 0usize..4, proptest::prelude::any::<bool>()), 0..60)) {
            let flags = [SHM_LOCK | SHM_EXCLUSIVE, SHM_UNLOCK | SHM_EXCLUSIVE, SHM_LOCK | SHM_SHARED, SHM_UNLOCK | SHM_SHARED];
            let (mut all, mut tracked) = (ResetGuard::default(), ResetGuard::default());
            for (offset, n, f, changed) in calls {
                let (n, flags) = (n.min(8 - offset), flags[f]);
                let live = || Some(if changed { T } else { S });
                let see = |g: &mut ResetGuard| {
                    if flags & SHM_EXCLUSIVE == 0 {
                        LockVerdict::Keep
                    } else if flags & SHM_UNLOCK != 0 {
                        g.unlocked(offset, n);
                        LockVerdict::Keep
                    } else {
                        g.locked(offset, n, live)
                    }
                };
                let expected = see(&mut all);
                let got = if tracked.tracks(offset, n, flags) { see(&mut tracked) } else { LockVerdict::Keep };
                proptest::prop_assert_eq!(got, expected, "{} {} {}", offset, n, flags);
                proptest::prop_assert_eq!((tracked.checkpoint_salts, tracked.holds_checkpoint), (all.checkpoint_salts, all.holds_checkpoint));
                // `holds_write` may only be false where the full view says true, never the reverse.
                proptest::prop_assert!(!tracked.holds_write || all.holds_write);
            }
        }
    }

    #[test]
    fn salts_need_the_known_version() {
        let mut header = [0u8; 48];
        header[..4].copy_from_slice(&WAL_INDEX_VERSION.to_ne_bytes());
        header[32..40].copy_from_slice(&S);
        assert_eq!(ResetGuard::salts(&header), Some(S));
        header[0] ^= 1;
        assert_eq!(ResetGuard::salts(&header), None);
        assert_eq!(ResetGuard::salts(&header[..20]), None);
    }

    #[test]
    fn affected_versions() {
        assert!(affected_version(3_040_001));
        assert!(affected_version(3_051_002));
        assert!(affected_version(3_007_000));
        assert!(!affected_version(3_006_023));
        assert!(!affected_version(3_051_003));
        assert!(mitigation_on(true, 3_040_001) && !mitigation_on(false, 3_040_001));
        assert!(!mitigation_on(true, 3_051_003) && !mitigation_on(true, 3_054_001));
        assert!(!affected_version(3_052_000), "3.52.0 had the fix");
        assert!(!affected_version(3_054_001));
    }
}
