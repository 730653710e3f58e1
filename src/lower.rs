//! A file as the lower VFS opened it, and its methods as safe calls.
//!
//! walguard's tables keep most of the lower file's methods as they are; the ones it guards
//! call the lower method on the same `sqlite3_file` once they have decided. A [`LowerFile`] is
//! the pair that makes those calls: the file and the lower table it was opened with. It is
//! made (unsafely) once per guarded file, when that file is opened or adopted, and lives in the
//! guard, which SQLite's `xClose` drops: while it exists, the file is open with that table.

use std::ffi::{c_int, c_void};

use libsqlite3_sys as ffi;

/// An open lower file: its `sqlite3_file` and the lower table it was opened with.
#[derive(Clone, Copy)]
pub struct LowerFile {
    file: *mut ffi::sqlite3_file,
    methods: *const ffi::sqlite3_io_methods,
}

/// Open `name` through `lower_vfs` into `file`, as SQLite asked walguard to: the lower table
/// when the file is open, else the code to answer (a failed lower open is left for SQLite to
/// close, exactly as without walguard).
///
/// # Safety
/// Arguments as SQLite passes them to the `xOpen` of a VFS that wraps `lower_vfs` (a registered
/// VFS); `file` is an allocation of at least the lower VFS's `szOsFile` bytes.
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const std::ffi::c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> Result<*const ffi::sqlite3_io_methods, c_int> {
    // SAFETY: as the caller vouches: SQLite's own arguments, passed on; the lower xOpen sets
    // pMethods whatever the outcome (null when nothing is open).
    unsafe {
        let lower_open = (*lower_vfs).xOpen.ok_or(ffi::SQLITE_CANTOPEN)?;
        let rc = lower_open(lower_vfs, name, file, flags, out_flags);
        let methods = (*file).pMethods;
        if rc != ffi::SQLITE_OK || methods.is_null() { Err(rc) } else { Ok(methods) }
    }
}

impl LowerFile {
    /// # Safety
    /// `file` is open with `methods` (non-null) and stays open while the value is used: it
    /// lives in the guard of the file, dropped by the file's `xClose`.
    pub unsafe fn new(file: *mut ffi::sqlite3_file, methods: *const ffi::sqlite3_io_methods) -> LowerFile {
        LowerFile { file, methods }
    }

    /// The `sqlite3_file` SQLite holds, for a method called on it.
    #[inline(always)]
    pub fn file(&self) -> *mut ffi::sqlite3_file {
        self.file
    }

    /// The lower table.
    #[inline(always)]
    pub fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `new`'s contract: the table of an open file, valid while the file is.
        unsafe { &*self.methods }
    }

    /// The lower table as a pointer, to put back into the file at its close.
    pub fn table(&self) -> *const ffi::sqlite3_io_methods {
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
    pub unsafe fn file_control(&self, op: c_int, arg: *mut c_void) -> c_int {
        match self.methods().xFileControl {
            // SAFETY: the file is open with this table; the caller vouches for `arg`.
            Some(file_control) => unsafe { file_control(self.file, op, arg) },
            None => ffi::SQLITE_NOTFOUND,
        }
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
