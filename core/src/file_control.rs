//! The file-controls walguard answers or watches on a guarded database file, told apart once.
//!
//! Every other file-control goes to the lower file untouched: the extension's `xFileControl`
//! asks [`FileControl::of`] and forwards [`FileControl::Forward`] as a tail call.

use crate::checkpoint::{FCNTL_CKPT_DONE, FCNTL_CKPT_START};

/// `SQLITE_FCNTL_VFSNAME`, `SQLITE_FCNTL_PRAGMA`, `SQLITE_FCNTL_COMMIT_PHASETWO`,
/// `SQLITE_FCNTL_PDB` (sqlite3.h, unchanged since they were added).
pub const FCNTL_VFSNAME: i32 = 12;
pub const FCNTL_PRAGMA: i32 = 14;
pub const FCNTL_COMMIT_PHASETWO: i32 = 22;
pub const FCNTL_PDB: i32 = 30;

/// What a file-control is to walguard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileControl {
    /// `PRAGMA` on the file: layer 1, and `PRAGMA walguard`.
    Pragma,
    /// The name of the VFS stack: walguard answers `walguard/<lower>`.
    VfsName,
    /// The btree's connection slot (`SQLITE_FCNTL_PDB`): the connection using the file.
    ConnectionSlot,
    /// A checkpoint's start or end, or a commit: an event of the header guard's state machine
    /// (`FileGuard::file_control`), then forwarded.
    StateEvent,
    /// Anything else: forwarded as it is.
    Forward,
}

impl FileControl {
    #[inline(always)]
    pub fn of(op: i32) -> FileControl {
        match op {
            FCNTL_PRAGMA => FileControl::Pragma,
            FCNTL_VFSNAME => FileControl::VfsName,
            FCNTL_PDB => FileControl::ConnectionSlot,
            FCNTL_CKPT_START | FCNTL_CKPT_DONE | FCNTL_COMMIT_PHASETWO => FileControl::StateEvent,
            _ => FileControl::Forward,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_control_walguard_uses_and_no_other() {
        assert_eq!(FileControl::of(FCNTL_PRAGMA), FileControl::Pragma);
        assert_eq!(FileControl::of(FCNTL_VFSNAME), FileControl::VfsName);
        assert_eq!(FileControl::of(FCNTL_PDB), FileControl::ConnectionSlot);
        for op in [FCNTL_CKPT_START, FCNTL_CKPT_DONE, FCNTL_COMMIT_PHASETWO] {
            assert_eq!(FileControl::of(op), FileControl::StateEvent);
        }
        let used = [FCNTL_PRAGMA, FCNTL_VFSNAME, FCNTL_PDB, FCNTL_CKPT_START, FCNTL_CKPT_DONE, FCNTL_COMMIT_PHASETWO];
        for op in (0..64).filter(|op| !used.contains(op)) {
            assert_eq!(FileControl::of(op), FileControl::Forward, "{op}");
        }
    }
}
