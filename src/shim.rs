//! Where walguard keeps the state of a file it opened: after the lower file, in the
//! allocation SQLite made for it.
//!
//! The walguard VFS's `szOsFile` is the lower VFS's, rounded up to 8, plus walguard's
//! largest per-file struct ([`TAIL_LEN`]). The lower VFS opens its file at the start of the
//! allocation, so the `sqlite3_file` SQLite holds *is* the lower file: every io method walguard
//! does not guard is the lower VFS's own function in walguard's table, called on the same
//! pointer as without walguard (no forwarding cost, nothing lost in translation). walguard's
//! struct (its table and its state) sits at [`tail_offset`] bytes from the file pointer, and
//! walguard finds it from the file pointer SQLite passes, never through `pMethods`: a layer
//! above that replaces `pMethods` with a copy of walguard's table (PROJ, used by SpatiaLite,
//! does exactly that) still reaches the same state, and walguard never frees a table it did
//! not allocate. (PROJ keeps its own state the same way, after the file of the VFS below it.)

use std::sync::atomic::{AtomicUsize, Ordering};

use libsqlite3_sys as ffi;

/// Bytes from a file pointer to walguard's struct: the lower VFS's `szOsFile`, 8-aligned. Set
/// once, when the VFS is registered, before any file is opened through it.
static TAIL_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// The bytes walguard adds to each file: its largest per-file struct.
pub const TAIL_LEN: usize = {
    let (db, wal) = (size_of::<crate::file::DbTail>(), size_of::<crate::wal_file::WalTail>());
    if db > wal { db } else { wal }
};

/// The walguard VFS's `szOsFile` over a lower VFS whose files take `lower` bytes; fixes where
/// walguard's struct lives (one lower VFS per process: the VFS is registered once).
pub fn os_file_size(lower: usize) -> usize {
    let offset = lower.next_multiple_of(8);
    TAIL_OFFSET.store(offset, Ordering::Release);
    offset + TAIL_LEN
}

/// Bytes from a file pointer to walguard's struct.
#[inline(always)]
pub fn tail_offset() -> usize {
    // Relaxed: the store happened before the VFS was registered, which happens before any
    // open through it (sqlite3_vfs_register takes SQLite's mutex).
    TAIL_OFFSET.load(Ordering::Relaxed)
}

/// Walguard's struct of type `T` in the allocation of `file`.
///
/// # Safety
/// `file` was opened through the walguard VFS (its allocation is `os_file_size` bytes), and a
/// `T` was written at the tail when it was opened.
#[inline(always)]
pub unsafe fn tail<T>(file: *mut ffi::sqlite3_file) -> *mut T {
    // SAFETY: the allocation holds the lower file, then walguard's struct at tail_offset().
    unsafe { file.cast::<u8>().add(tail_offset()).cast() }
}
