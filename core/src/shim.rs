//! Where a shim VFS keeps its state for a file: after the lower VFS's file, in the one
//! allocation SQLite makes for it.
//!
//! SQLite allocates `szOsFile` bytes of the VFS a file is opened through and hands them to
//! `xOpen` (inside the pager's or the WAL's own allocation), aligned to
//! [`SQLITE_ALIGNMENT`] and no more. walguard's VFS asks for the lower VFS's `szOsFile`,
//! rounded up to that alignment, plus the size of its own struct (the tail): the lower VFS
//! opens its file at the start, and the tail lives at [`TailLayout::offset`] from the file
//! pointer. The extension (`src/wrap/tail.rs`) does the pointer arithmetic; this is the arithmetic.

/// The alignment of the memory SQLite passes to `xOpen`: `sqlite3_malloc` guarantees 8 bytes
/// (4 only in builds with `SQLITE_4_BYTE_ALIGNED_MALLOC`, for 32-bit targets), and the pager
/// and the WAL place the file at an 8-byte multiple inside their allocation.
pub const SQLITE_ALIGNMENT: usize = 8;

/// Where the tail goes, and what the shim's `szOsFile` must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TailLayout {
    /// Bytes from the file pointer to the tail: the lower file's size, rounded up to
    /// [`SQLITE_ALIGNMENT`].
    pub offset: usize,
    /// The shim VFS's `szOsFile`: room for the lower file and the tail.
    pub os_file_size: i32,
}

/// The layout over a lower VFS whose `szOsFile` is `lower`, for a tail of `len` bytes aligned
/// to `align`. `None` when there is none: a negative `lower`, an alignment SQLite's memory does
/// not guarantee, or a total that does not fit `szOsFile` (an `int`).
pub fn tail_layout(lower: i32, len: usize, align: usize) -> Option<TailLayout> {
    if !align.is_power_of_two() || align > SQLITE_ALIGNMENT {
        return None;
    }
    let offset = usize::try_from(lower).ok()?.checked_next_multiple_of(SQLITE_ALIGNMENT)?;
    let os_file_size = i32::try_from(offset.checked_add(len)?).ok()?;
    Some(TailLayout { offset, os_file_size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_tail_follows_the_lower_file_at_the_next_multiple_of_8() {
        assert_eq!(tail_layout(0, 40, 8), Some(TailLayout { offset: 0, os_file_size: 40 }));
        assert_eq!(tail_layout(1, 40, 8), Some(TailLayout { offset: 8, os_file_size: 48 }));
        assert_eq!(tail_layout(8, 40, 8), Some(TailLayout { offset: 8, os_file_size: 48 }));
        assert_eq!(tail_layout(13, 40, 4), Some(TailLayout { offset: 16, os_file_size: 56 }));
        // unixFile on x86_64 Linux.
        assert_eq!(tail_layout(120, 400, 8), Some(TailLayout { offset: 120, os_file_size: 520 }));
    }

    #[test]
    fn no_layout_where_sqlite_cannot_give_one() {
        assert_eq!(tail_layout(-1, 40, 8), None);
        assert_eq!(tail_layout(0, 40, 16), None, "SQLite's memory is only 8-byte aligned");
        assert_eq!(tail_layout(0, 40, 3), None);
        assert_eq!(tail_layout(i32::MAX - 7, 40, 8), None, "szOsFile is an int");
        assert_eq!(tail_layout(i32::MAX, 0, 8), None, "rounding up overflows the int");
        assert_eq!(tail_layout(0, usize::MAX, 8), None);
        assert_eq!(tail_layout(i32::MAX - 47, 40, 8), Some(TailLayout { offset: i32::MAX as usize - 47, os_file_size: i32::MAX - 7 }));
    }

    proptest! {
        /// The lower file and the tail both fit, do not overlap, and the tail is aligned
        /// wherever an 8-byte-aligned allocation puts the file.
        #[test]
        fn the_tail_fits_after_the_lower_file(lower in 0i32..=i32::MAX, len in 0usize..1 << 20, align_log in 0u32..=3) {
            let align = 1usize << align_log;
            match tail_layout(lower, len, align) {
                Some(layout) => {
                    let (lower, size) = (lower as usize, layout.os_file_size as usize);
                    prop_assert!(layout.offset >= lower && layout.offset - lower < SQLITE_ALIGNMENT);
                    prop_assert_eq!(layout.offset % SQLITE_ALIGNMENT, 0);
                    prop_assert_eq!(layout.offset % align, 0);
                    prop_assert_eq!(size, layout.offset + len);
                }
                None => prop_assert!(lower as usize + len > i32::MAX as usize - SQLITE_ALIGNMENT),
            }
        }
    }
}
