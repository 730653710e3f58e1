//! Where a wrapped file's [`Wrapped`](super::io::Wrapped) struct lives: after the lower file, in
//! the allocation SQLite made for it.
//!
//! The wrapping VFS's `szOsFile` is the lower VFS's, rounded up to 8, plus the room its
//! largest wrapper takes (`OpenHook::ROOM`); the arithmetic is `walguard_core::shim`. The lower
//! VFS opens its file at the start of the allocation, so the `sqlite3_file` SQLite holds *is*
//! the lower file: every io method the hooks leave alone is the lower VFS's own function in the
//! wrapper's table, called on the same pointer as without the wrapper (no forwarding cost,
//! nothing lost in translation). The struct sits at [`tail_offset`] bytes from the file pointer
//! and is found from the file pointer SQLite passes, never through `pMethods`: a layer above
//! that replaces `pMethods` with a copy of the table (PROJ, used by SpatiaLite, does exactly
//! that) still reaches the same state, and the wrapper never frees a table it did not
//! allocate. (PROJ keeps its own state the same way, after the file of the VFS below it.)

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use libsqlite3_sys as ffi;
use walguard_core::shim::{SQLITE_ALIGNMENT, TailLayout, tail_layout};

/// Bytes from a file pointer to the wrapper's struct: the lower VFS's `szOsFile`, 8-aligned. Set
/// once, when the first wrapping VFS is built, before any file is opened through it; every
/// wrapping VFS of the process must agree with it ([`os_file_size`]).
static TAIL_OFFSET: AtomicUsize = AtomicUsize::new(UNSET);
const UNSET: usize = usize::MAX;

/// Where a tail of `room` (bytes, alignment) goes over a lower VFS whose `szOsFile` is `lower`.
pub fn layout(lower: c_int, room: (usize, usize)) -> Option<TailLayout> {
    if room.1 > SQLITE_ALIGNMENT {
        return None;
    }
    tail_layout(lower, room.0, room.1)
}

/// The wrapping VFS's `szOsFile` over a lower VFS whose `szOsFile` is `lower`; the first call
/// fixes where the struct lives for the process. `None`: no room for it (see [`tail_layout`]),
/// or a lower VFS whose files put it elsewhere than the first one's: one offset serves every
/// file, so a VFS that would move it for files already open is never wrapped (walguard wraps
/// only VFSes of the default's `szOsFile`, `vfs::variants_of`).
pub fn os_file_size(lower: c_int, room: (usize, usize)) -> Option<c_int> {
    let layout = layout(lower, room)?;
    match TAIL_OFFSET.compare_exchange(UNSET, layout.offset, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(layout.os_file_size),
        Err(offset) => (offset == layout.offset).then_some(layout.os_file_size),
    }
}

/// Bytes from a file pointer to the wrapper's struct.
#[inline(always)]
pub fn tail_offset() -> usize {
    // Relaxed: the store happened before the VFS was registered, which happens before any
    // open through it (sqlite3_vfs_register takes SQLite's mutex).
    TAIL_OFFSET.load(Ordering::Relaxed)
}

/// The wrapper's struct of type `T` in the allocation of `file`.
///
/// # Safety
/// `file` was opened through the wrapping VFS (its allocation is `os_file_size` bytes), and a
/// `T` is (or is being) written at its tail.
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
    // SAFETY: the allocation holds the lower file, then the wrapper's struct at `offset`.
    unsafe { file.cast::<u8>().add(offset).cast() }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;
    use std::{ptr, slice};

    use super::*;
    use crate::guard::Guard;
    use crate::testing::Allocation;
    use crate::vfs::ROOM;
    use crate::wal_file::Wal;
    use crate::wrap::io::{Wrapped, room_for};

    /// Open a file as SQLite and the wrapper do over a lower VFS whose files take `lower` bytes:
    /// exactly `szOsFile` bytes aligned to 8, the lower file at the start, then a whole `T`
    /// written at the tail. Under Miri, a tail past the end of the allocation or misaligned for
    /// `T` is reported as UB; natively, the assertions check the same.
    fn open_as_sqlite_does<T>(lower: c_int) {
        let layout = layout(lower, ROOM).expect("a layout for any lower size SQLite could allocate");
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
            open_as_sqlite_does::<Wrapped<Guard>>(lower);
            open_as_sqlite_does::<Wrapped<Wal>>(lower);
        }
    }

    /// One offset serves every file of the process: once a wrapping VFS fixed it, a lower VFS
    /// whose files would put the struct elsewhere is refused, and the offset stays.
    #[test]
    fn the_tail_offset_is_fixed_once() {
        let vfs = crate::testing::walguard_vfs(); // fixes the offset over the in-memory VFS
        let lower = crate::testing::lower_vfs();
        // SAFETY: both VFSes live for the process.
        let (size, lower_size) = unsafe { ((*vfs).szOsFile, (*lower).szOsFile) };
        let offset = tail_offset();
        assert_eq!(os_file_size(lower_size, ROOM), Some(size), "the same lower size: the same layout");
        assert_eq!(os_file_size(lower_size + 16, ROOM), None, "a layout that would move the struct");
        assert_eq!(tail_offset(), offset);
    }

    #[test]
    fn no_vfs_without_room_for_the_tail() {
        assert_eq!(layout(-1, ROOM), None);
        assert_eq!(layout(c_int::MAX, ROOM), None);
        assert!(layout(c_int::MAX - ROOM.0 as c_int - 8, ROOM).is_some());
        assert_eq!(layout(8, (8, 16)), None, "an alignment SQLite's memory does not give");
        assert!(room_for::<Guard>().0 <= ROOM.0 && room_for::<Wal>().0 <= ROOM.0);
    }
}
