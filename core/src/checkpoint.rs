//! How walguard learns that a checkpoint is copying WAL frames into the database file.
//!
//! The header guard must tell a checkpoint's copy of page 1 from a write of the connection's
//! own ([`FileGuard::checkpoint_started`](crate::FileGuard::checkpoint_started) and
//! [`checkpoint_done`](crate::FileGuard::checkpoint_done)). Hosts say so in one of two ways:
//! - SQLite 3.32.0 and later send `SQLITE_FCNTL_CKPT_START` before the copy and
//!   `SQLITE_FCNTL_CKPT_DONE` after it, whether it succeeded or not;
//! - older hosts send no `CKPT_START`, and 3.31's `CKPT_DONE` comes only after a successful
//!   checkpoint. There the checkpointer's exclusive lock on wal-index lock slot 1
//!   (`WAL_CKPT_LOCK`) brackets the copy instead: `sqlite3WalCheckpoint` takes that slot alone
//!   and exclusively before its first write and releases it after its last, and nothing else
//!   takes it that way (recovery locks slots 1 to 7 together; snapshots take it shared).
//!
//! A file uses one of the two, never both, so a checkpoint is never seen to end twice.
//!
//! Limit: with `locking_mode=EXCLUSIVE` the wal-index lives in heap memory and SQLite makes no
//! `xShmLock` call, so a host older than 3.32.0 shows no checkpoint there. Nothing is let
//! through by it: every write of a page 1 that leaves WAL is still refused (only the refusal's
//! name, `Downgrade` instead of `PoisonedCheckpoint`, and the "WAL poisoned" report differ), and
//! a checkpoint's copy of a WAL header over a rollback one, which would then be remembered as the
//! connection's own switch, needs a rollback header on disk under an exclusive-mode WAL
//! connection: a process that ignores locks.

use crate::wal_reset::{CKPT_LOCK, SHM_EXCLUSIVE, SHM_LOCK, SHM_UNLOCK};

/// `SQLITE_FCNTL_CKPT_DONE` (SQLite 3.31.0) and `SQLITE_FCNTL_CKPT_START` (3.32.0).
pub const FCNTL_CKPT_DONE: i32 = 37;
pub const FCNTL_CKPT_START: i32 = 39;

/// The first SQLite that sends `SQLITE_FCNTL_CKPT_START`.
const CKPT_START_SINCE: i32 = 3_032_000;

/// Where a host's checkpoints show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointSignal {
    /// `SQLITE_FCNTL_CKPT_START` and `SQLITE_FCNTL_CKPT_DONE`.
    FileControls,
    /// The exclusive lock of wal-index lock slot 1, alone.
    CheckpointLock,
}

/// A checkpoint began or ended its copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointEvent {
    Started,
    Done,
}

impl CheckpointSignal {
    /// The signal of a host of `version` (`sqlite3_libversion_number`).
    pub fn for_host(version: i32) -> CheckpointSignal {
        if version >= CKPT_START_SINCE { CheckpointSignal::FileControls } else { CheckpointSignal::CheckpointLock }
    }

    /// A file-control `op` sent to the database file.
    pub fn on_file_control(self, op: i32) -> Option<CheckpointEvent> {
        match (self, op) {
            (CheckpointSignal::FileControls, FCNTL_CKPT_START) => Some(CheckpointEvent::Started),
            (CheckpointSignal::FileControls, FCNTL_CKPT_DONE) => Some(CheckpointEvent::Done),
            _ => None,
        }
    }

    /// An `xShmLock(offset, n, flags)` the lower file granted.
    pub fn on_shm_lock(self, offset: i32, n: i32, flags: i32) -> Option<CheckpointEvent> {
        if self != CheckpointSignal::CheckpointLock || (offset, n) != (CKPT_LOCK, 1) || flags & SHM_EXCLUSIVE == 0 {
            return None;
        }
        match flags & (SHM_LOCK | SHM_UNLOCK) {
            SHM_LOCK => Some(CheckpointEvent::Started),
            SHM_UNLOCK => Some(CheckpointEvent::Done),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal_reset::{READ_LOCK_0, SHM_SHARED, WRITE_LOCK};

    const LOCK_X: i32 = SHM_LOCK | SHM_EXCLUSIVE;
    const UNLOCK_X: i32 = SHM_UNLOCK | SHM_EXCLUSIVE;

    #[test]
    fn the_file_controls_from_3_32_0() {
        for version in [3_032_000, 3_040_001, 3_054_001] {
            let signal = CheckpointSignal::for_host(version);
            assert_eq!(signal, CheckpointSignal::FileControls);
            assert_eq!(signal.on_file_control(FCNTL_CKPT_START), Some(CheckpointEvent::Started));
            assert_eq!(signal.on_file_control(FCNTL_CKPT_DONE), Some(CheckpointEvent::Done));
            // The checkpoint lock says nothing there: each checkpoint is seen once.
            assert_eq!(signal.on_shm_lock(CKPT_LOCK, 1, LOCK_X), None);
            assert_eq!(signal.on_shm_lock(CKPT_LOCK, 1, UNLOCK_X), None);
        }
    }

    #[test]
    fn the_checkpoint_lock_before_3_32_0() {
        for version in [3_026_000, 3_031_001] {
            let signal = CheckpointSignal::for_host(version);
            assert_eq!(signal, CheckpointSignal::CheckpointLock);
            assert_eq!(signal.on_shm_lock(CKPT_LOCK, 1, LOCK_X), Some(CheckpointEvent::Started));
            assert_eq!(signal.on_shm_lock(CKPT_LOCK, 1, UNLOCK_X), Some(CheckpointEvent::Done));
            // 3.31's CKPT_DONE (after a successful checkpoint only) is not used: the unlock is.
            assert_eq!(signal.on_file_control(FCNTL_CKPT_DONE), None);
            assert_eq!(signal.on_file_control(FCNTL_CKPT_START), None);
        }
    }

    #[test]
    fn no_other_lock_is_a_checkpoint() {
        let signal = CheckpointSignal::CheckpointLock;
        // Recovery: slots 1..7 (or 2..7 under a checkpointer) together.
        assert_eq!(signal.on_shm_lock(CKPT_LOCK, 7, LOCK_X), None);
        assert_eq!(signal.on_shm_lock(CKPT_LOCK, 7, UNLOCK_X), None);
        assert_eq!(signal.on_shm_lock(2, 6, LOCK_X), None);
        // Snapshots take the checkpoint lock shared.
        assert_eq!(signal.on_shm_lock(CKPT_LOCK, 1, SHM_LOCK | SHM_SHARED), None);
        assert_eq!(signal.on_shm_lock(CKPT_LOCK, 1, SHM_UNLOCK | SHM_SHARED), None);
        // The writer, readers.
        assert_eq!(signal.on_shm_lock(WRITE_LOCK, 1, LOCK_X), None);
        assert_eq!(signal.on_shm_lock(READ_LOCK_0, 1, LOCK_X), None);
        assert_eq!(signal.on_shm_lock(READ_LOCK_0, 1, SHM_LOCK | SHM_SHARED), None);
    }
}
