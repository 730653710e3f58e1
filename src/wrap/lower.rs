//! The lower file, as the wrapped VFS opened it, and its methods as safe calls.
//!
//! A wrapped file's table keeps most of the lower methods as they are; a hook that decides to
//! let a call through returns, and the trampoline (`io.rs`) makes the lower call with SQLite's
//! own arguments. What a hook needs of the file besides (a read of the header, the name of the
//! VFS stack, a shared-memory lock, the wal-index) goes through a [`LowerFile`]: the pair of the
//! `sqlite3_file` and the lower table it was opened with, made once per wrapped file and valid
//! while the file is open (it lives in the wrapper, which `xClose` drops).

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use libsqlite3_sys as ffi;

use crate::host;

/// An open lower file: its `sqlite3_file` and the lower table it was opened with.
///
/// Valid while the file is open. The layer hands one out only where the hooks are made
/// (`Opened::lower`, `io::adopt`'s closure, `ForeignFile::if_open`), to be kept in hooks that
/// live in the file's wrapper and die at its close; a copy kept anywhere else could outlive
/// the file. That is the one promise of this layer its types do not hold (a copy is needed: the
/// WAL's hooks read the database through its guard's).
#[derive(Clone, Copy)]
pub struct LowerFile {
    file: *mut ffi::sqlite3_file,
    methods: *const ffi::sqlite3_io_methods,
}

impl LowerFile {
    /// An open file, with the table it has now.
    ///
    /// # Safety
    /// `file` is open and stays open while the value is used.
    pub unsafe fn of_open(file: *mut ffi::sqlite3_file) -> LowerFile {
        // SAFETY: an open file has a valid, non-null table.
        LowerFile { file, methods: unsafe { (*file).pMethods } }
    }

    /// # Safety
    /// `file` is open with `methods` (non-null) and stays open while the value is used.
    pub(super) unsafe fn new(file: *mut ffi::sqlite3_file, methods: *const ffi::sqlite3_io_methods) -> LowerFile {
        LowerFile { file, methods }
    }

    /// The `sqlite3_file` SQLite holds, for a method called on it.
    #[inline(always)]
    pub(super) fn file(&self) -> *mut ffi::sqlite3_file {
        self.file
    }

    /// The lower table.
    #[inline(always)]
    pub fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `new`'s contract: the table of an open file, valid while the file is.
        unsafe { &*self.methods }
    }

    /// The lower table as a pointer, to put back into the file at its close.
    pub(super) fn table(&self) -> *const ffi::sqlite3_io_methods {
        self.methods
    }

    /// `xRead` of `buf.len()` bytes at `offset`.
    pub fn read_at(&self, buf: &mut [u8], offset: i64) -> c_int {
        let (Some(read), Ok(len)) = (self.methods().xRead, c_int::try_from(buf.len())) else { return ffi::SQLITE_IOERR_READ };
        // SAFETY: the file is open with this table; `buf` holds `len` bytes.
        unsafe { read(self.file, buf.as_mut_ptr().cast(), len, offset) }
    }

    /// `xFileControl`: forwarded, `SQLITE_NOTFOUND` when the lower file has none.
    ///
    /// # Safety
    /// `arg` is what `op` expects, as SQLite documents it.
    #[inline(always)]
    pub(super) unsafe fn file_control(&self, op: c_int, arg: *mut c_void) -> c_int {
        match self.methods().xFileControl {
            // SAFETY: the file is open with this table; the caller vouches for `arg`.
            Some(file_control) => unsafe { file_control(self.file, op, arg) },
            None => ffi::SQLITE_NOTFOUND,
        }
    }

    /// What the lower file answers to `SQLITE_FCNTL_VFSNAME` (a stack of shims names itself),
    /// `None` when it does not answer.
    pub fn vfs_name(&self) -> Option<String> {
        let mut name: *mut c_char = ptr::null_mut();
        // SAFETY: VFSNAME's documented out-parameter, a string from sqlite3_malloc that is ours
        // to free (which `SqliteString` does).
        let name = unsafe {
            let rc = self.file_control(ffi::SQLITE_FCNTL_VFSNAME, (&raw mut name).cast());
            host::SqliteString::from_raw(name).filter(|_| rc == ffi::SQLITE_OK)
        };
        name.map(|name| String::from_utf8_lossy(name.to_bytes()).into_owned())
    }

    /// `xShmLock`.
    pub fn shm_lock(&self, offset: c_int, n: c_int, flags: c_int) -> c_int {
        match self.methods().xShmLock {
            // SAFETY: the file is open with this table; plain integer arguments.
            Some(shm_lock) => unsafe { shm_lock(self.file, offset, n, flags) },
            None => ffi::SQLITE_IOERR_SHMLOCK,
        }
    }
}

/// The size of a wal-index region (`WALINDEX_PGSZ`): what `xShmMap` maps for region 0.
const REGION_LEN: usize = 32768;

/// Region 0 of the wal-index, as the lower `xShmMap` handed it to SQLite; recorded and cleared
/// by the trampolines of a file whose hooks watch shared memory (`Hooked::shm`).
pub struct WalIndex {
    /// Null while unmapped; else a mapping of [`REGION_LEN`] bytes, valid until `xShmUnmap`,
    /// whose trampoline clears it first.
    region: *const u8,
}

impl WalIndex {
    pub(super) const UNMAPPED: WalIndex = WalIndex { region: ptr::null() };

    /// # Safety
    /// `region` is null or region 0 as the lower `xShmMap` just mapped it, valid until the
    /// `xShmUnmap` that calls this with null first.
    pub(super) unsafe fn set(&mut self, region: *const u8) {
        self.region = region;
    }

    /// The first `N` bytes of region 0 as they are now, `None` while it is unmapped. Other
    /// processes write the region: read it after a full barrier, as SQLite does
    /// (`walShmBarrier`), through volatile reads of a copy.
    pub fn header<const N: usize>(&self) -> Option<[u8; N]> {
        const { assert!(N <= REGION_LEN) };
        if self.region.is_null() {
            return None;
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let mut header = [0u8; N];
        for (i, byte) in header.iter_mut().enumerate() {
            // SAFETY: a mapping of REGION_LEN bytes (see `region`), and i < N <= REGION_LEN.
            *byte = unsafe { ptr::read_volatile(self.region.add(i)) };
        }
        Some(header)
    }
}

/// An `xRead`, as the bindings spell it.
pub type Read = Option<unsafe extern "C" fn(*mut ffi::sqlite3_file, *mut c_void, c_int, ffi::sqlite3_int64) -> c_int>;

/// A file handle SQLite owns (a pager's rollback-journal handle), read only while it is open
/// with a given `xRead`: SQLite sets its table when it opens it and clears it when it closes it.
#[derive(Clone, Copy)]
pub struct ForeignFile {
    file: *mut ffi::sqlite3_file,
    reads_with: Read,
}

impl ForeignFile {
    /// # Safety
    /// `file` is a handle whose memory outlives this value (and its copies), and whose opens
    /// and closes are serialised with their use (a pager's handle, used by that pager's calls).
    pub unsafe fn new(file: *mut ffi::sqlite3_file, reads_with: Read) -> ForeignFile {
        ForeignFile { file, reads_with }
    }

    /// The handle as a lower file, while it is open with the `xRead` it was made with.
    pub fn if_open(&self) -> Option<LowerFile> {
        let wanted = self.reads_with?;
        // SAFETY: `new`'s contract: the handle's memory is live.
        let methods = unsafe { (*self.file).pMethods };
        if methods.is_null() {
            return None;
        }
        // SAFETY: a non-null pMethods of an open file is its valid table.
        let read = unsafe { (*methods).xRead }?;
        // SAFETY: open with `methods`, and it stays open for this use (serialised, see `new`).
        ptr::fn_addr_eq(read, wanted).then(|| unsafe { LowerFile::new(self.file, methods) })
    }
}

impl LowerFile {
    /// `xFileSize`.
    pub fn size(&self) -> Option<u64> {
        let mut size: ffi::sqlite3_int64 = 0;
        // SAFETY: the file is open with this table; `size` is a valid out-parameter.
        let rc = unsafe { self.methods().xFileSize?(self.file, &mut size) };
        (rc == ffi::SQLITE_OK).then(|| u64::try_from(size).ok()).flatten()
    }
}
