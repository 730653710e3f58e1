//! Where walguard keeps the state of a file it opened: after the lower file, in the
//! allocation SQLite made for it.
//!
//! The walguard VFS's `szOsFile` is the lower VFS's, rounded up to 8, plus walguard's
//! largest per-file struct ([`TAIL_LEN`]); the arithmetic is `walguard_core::shim`. The lower VFS opens its file at the start of the
//! allocation, so the `sqlite3_file` SQLite holds *is* the lower file: every io method walguard
//! does not guard is the lower VFS's own function in walguard's table, called on the same
//! pointer as without walguard (no forwarding cost, nothing lost in translation). walguard's
//! struct (its table and its state) sits at [`tail_offset`] bytes from the file pointer, and
//! walguard finds it from the file pointer SQLite passes, never through `pMethods`: a layer
//! above that replaces `pMethods` with a copy of walguard's table (PROJ, used by SpatiaLite,
//! does exactly that) still reaches the same state, and walguard never frees a table it did
//! not allocate. (PROJ keeps its own state the same way, after the file of the VFS below it.)

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use libsqlite3_sys as ffi;
use walguard_core::shim::{SQLITE_ALIGNMENT, TailLayout, tail_layout};

/// Bytes from a file pointer to walguard's struct: the lower VFS's `szOsFile`, 8-aligned. Set
/// once, when the VFS is registered, before any file is opened through it.
static TAIL_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// The bytes walguard adds to each file: its largest per-file struct.
pub const TAIL_LEN: usize = {
    let (db, wal) = (size_of::<crate::file::DbTail>(), size_of::<crate::wal_file::WalTail>());
    if db > wal { db } else { wal }
};

/// The alignment walguard's structs need, which SQLite's memory must give them.
pub const TAIL_ALIGN: usize = {
    let (db, wal) = (align_of::<crate::file::DbTail>(), align_of::<crate::wal_file::WalTail>());
    if db > wal { db } else { wal }
};

const _: () = assert!(TAIL_ALIGN <= SQLITE_ALIGNMENT, "walguard's per-file structs must fit SQLite's 8-byte alignment");

/// Where walguard's struct goes over a lower VFS whose `szOsFile` is `lower`.
pub fn layout(lower: c_int) -> Option<TailLayout> {
    tail_layout(lower, TAIL_LEN, TAIL_ALIGN)
}

/// The walguard VFS's `szOsFile` over a lower VFS whose `szOsFile` is `lower`; fixes where
/// walguard's struct lives (every VFS walguard wraps has the default's `szOsFile`, see
/// `vfs::variants_of`, and they are wrapped once per process). `None`: no room for it (see
/// [`tail_layout`]).
pub fn os_file_size(lower: c_int) -> Option<c_int> {
    let layout = layout(lower)?;
    TAIL_OFFSET.store(layout.offset, Ordering::Release);
    Some(layout.os_file_size)
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
    // SAFETY: as the caller vouches.
    unsafe { tail_at(file, tail_offset()) }
}

/// The struct at `offset` bytes from `file`.
///
/// # Safety
/// `offset` is the [`layout`]'s offset for the allocation `file` points to.
#[inline(always)]
unsafe fn tail_at<T>(file: *mut ffi::sqlite3_file, offset: usize) -> *mut T {
    // SAFETY: the allocation holds the lower file, then walguard's struct at `offset`.
    unsafe { file.cast::<u8>().add(offset).cast() }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;
    use std::{ptr, slice};

    use super::*;
    use crate::file::DbTail;
    use crate::testing::Allocation;
    use crate::wal_file::WalTail;

    /// Open a file as SQLite and walguard do over a lower VFS whose files take `lower` bytes:
    /// exactly `szOsFile` bytes aligned to 8, the lower file at the start, then a whole `T`
    /// written at the tail. Under Miri, a tail past the end of the allocation or misaligned for
    /// `T` is reported as UB; natively, the assertions check the same.
    fn open_as_sqlite_does<T>(lower: c_int) {
        let layout = layout(lower).expect("a layout for any lower size SQLite could allocate");
        let memory = Allocation::new(layout.os_file_size);
        let lower = usize::try_from(lower).unwrap();
        // SAFETY: `memory` holds os_file_size bytes, `lower` of them for the lower file, and
        // the tail writes stay inside it (what this test checks).
        unsafe {
            ptr::write_bytes(memory.ptr, 0xa5, lower);
            let tail = tail_at::<MaybeUninit<T>>(memory.ptr.cast(), layout.offset);
            assert_eq!(tail as usize % align_of::<T>(), 0, "tail misaligned over a lower file of {lower} bytes");
            assert!(tail as usize + size_of::<T>() <= memory.ptr as usize + memory.layout.size(), "tail out of bounds");
            tail.write(MaybeUninit::zeroed());
            assert!(slice::from_raw_parts(memory.ptr, lower).iter().all(|&b| b == 0xa5), "the tail overlaps the lower file");
        }
    }

    #[test]
    fn every_tail_fits_after_every_lower_file() {
        for lower in (0..=256).chain([1000, 4097, 65535]) {
            open_as_sqlite_does::<DbTail>(lower);
            open_as_sqlite_does::<WalTail>(lower);
        }
    }

    #[test]
    fn no_vfs_without_room_for_the_tail() {
        assert_eq!(layout(-1), None);
        assert_eq!(layout(c_int::MAX), None);
        assert!(layout(c_int::MAX - TAIL_LEN as c_int - 8).is_some());
    }
}
