//! The wrapping VFS: its struct, `xOpen`, and every other VFS method forwarded.
//!
//! Following SQLite's `ext/misc/cksumvfs.c`, the lower VFS lives in `pAppData` and every
//! method is forwarded to it. `xOpen` opens every file with the lower `xOpen` at the start of
//! SQLite's allocation (`szOsFile` has room after it for the largest wrapper, `tail.rs`), then
//! shows each named file to the [`OpenHook`], which may wrap it ([`Opened::wrap`]) or leave it
//! the lower VFS's. Temporary files (no name) belong to the lower VFS outright.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::ptr;

use libsqlite3_sys as ffi;

use super::io::{FileHooks, KNOWN_VERSIONS, room_for, wrap_in_place};
use super::lower::{LowerFile, Read};
use super::tail;
use crate::host;

/// What a wrapping VFS does with the files the lower VFS opens.
pub trait OpenHook: Sized + 'static {
    /// The room (bytes, alignment) of the largest wrapper this hook installs in a file's tail.
    const ROOM: (usize, usize);

    /// A file the lower VFS opened for SQLite, under a name: wrap it or leave it. The code is
    /// what `xOpen` answers (the file is open either way; SQLite closes it after an error).
    fn opened(file: Opened<'_, Self>) -> c_int;
}

/// A file the lower VFS has just opened for SQLite, as `xOpen` was asked to open it.
pub struct Opened<'a, V> {
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out_flags: *mut c_int,
    lower: LowerFile,
    hook: PhantomData<(&'a (), V)>,
}

impl<'a, V: OpenHook> Opened<'a, V> {
    /// The `SQLITE_OPEN_*` flags of the open.
    #[inline(always)]
    pub fn flags(&self) -> c_int {
        self.flags
    }

    /// The lower file.
    pub fn lower(&self) -> LowerFile {
        self.lower
    }

    /// The name as passed (SQLite keeps a database's and its journal's and WAL's names valid
    /// until the file is closed).
    pub fn name(&self) -> &'a [u8] {
        // SAFETY: `xOpen`'s name, NUL-terminated (the hook is called for named files only).
        unsafe { CStr::from_ptr(self.name) }.to_bytes()
    }

    /// Where the name lies: SQLite passes a database's companions (journal, WAL) names from the
    /// database's own allocation, at addresses [`Opened::journal_name_address`] predicts.
    #[inline(always)]
    pub fn name_address(&self) -> usize {
        self.name as usize
    }

    /// For a main database opened by SQLite's pager: where SQLite keeps the name of its rollback
    /// journal, the WAL's name right after it.
    ///
    /// `sqlite3PagerOpen` (every version walguard supports) lays out in one allocation the
    /// database's name, its URI parameters (`key\0value\0`... then an empty key; just the empty
    /// key without `SQLITE_OPEN_URI`), the journal's name, then the WAL's
    /// (`<name>-journal\0<name>-wal`), and passes pointers into it to `xOpen`. The parameters
    /// are walked only where SQLite's own VFS reads them (`SQLITE_OPEN_URI`); a VFS above that
    /// passes a name of its own gets an address no companion of SQLite's will have.
    pub fn journal_name_address(&self) -> usize {
        let strlen = |at: *const c_char| -> usize {
            // SAFETY: NUL-terminated strings of the layout above (see `uri_parameter`).
            unsafe { CStr::from_ptr(at) }.count_bytes() + 1
        };
        let mut at = self.name as usize + strlen(self.name);
        if self.flags & ffi::SQLITE_OPEN_URI != 0 {
            // SAFETY: with SQLITE_OPEN_URI, the name is a database filename as SQLite makes it,
            // with its parameters after it and an empty key at their end.
            while unsafe { *(at as *const c_char) } != 0 {
                at += strlen(at as *const c_char); // the key
                at += strlen(at as *const c_char); // its value
            }
        }
        at + 1
    }

    /// The URI parameter `key`, read only from a URI filename, as SQLite's own VFSes do (a VFS
    /// above may pass a plain name with nothing after it).
    pub fn uri_parameter(&self, key: &CStr) -> Option<&'a [u8]> {
        if self.flags & ffi::SQLITE_OPEN_URI == 0 {
            return None;
        }
        // SAFETY: with SQLITE_OPEN_URI the name is a database filename SQLite made, which
        // sqlite3_uri_parameter accepts; its answer lives as long as the name.
        unsafe { host::bytes(ffi::sqlite3_uri_parameter(self.name, key.as_ptr())) }
    }

    /// `sqlite3_uri_boolean(key, false)`, on a URI filename only (as [`Opened::uri_parameter`]).
    pub fn uri_boolean(&self, key: &CStr) -> bool {
        // SAFETY: as in `uri_parameter`.
        self.flags & ffi::SQLITE_OPEN_URI != 0 && unsafe { ffi::sqlite3_uri_boolean(self.name, key.as_ptr(), 0) } != 0
    }

    /// The file is read-only for this connection (asked so, or opened so by the lower VFS).
    pub fn read_only(&self) -> bool {
        // SAFETY: `out_flags` is null or SQLite's output slot, just written by the lower xOpen.
        self.flags & ffi::SQLITE_OPEN_READONLY != 0
            || (!self.out_flags.is_null() && unsafe { *self.out_flags } & ffi::SQLITE_OPEN_READONLY != 0)
    }

    /// The name of the lower VFS.
    pub fn lower_vfs_name(&self) -> &'static CStr {
        // SAFETY: a registered VFS has a static, NUL-terminated name.
        unsafe { CStr::from_ptr((*self.lower_vfs).zName) }
    }

    /// The `sqlite3_file` SQLite will call, for hooks that keep a handle on a file they do
    /// not wrap (`lower::ForeignFile`).
    pub fn handle(&self) -> *mut ffi::sqlite3_file {
        self.lower.file()
    }

    /// Wrap the file with `hooks`, in its tail: the hooks in place, for as long as the file is
    /// open; `Err` with the version of an io-methods table the wrapper does not know.
    pub fn wrap<H: FileHooks>(self, hooks: H) -> Result<Placed<'a, H>, c_int> {
        const { assert!(room_for::<H>().0 <= V::ROOM.0 && room_for::<H>().1 <= V::ROOM.1) };
        let version = self.lower.methods().iVersion;
        if !KNOWN_VERSIONS.contains(&version) {
            return Err(version);
        }
        // SAFETY: the file was opened by the lower VFS into an allocation of the wrapping VFS's
        // szOsFile bytes, which has room for V::ROOM, and so for H, after it (`tail.rs`).
        Ok(Placed { hooks: unsafe { wrap_in_place(self.lower.file(), self.lower, hooks) }, open: PhantomData })
    }
}

/// Hooks just placed in a file's tail, during its `xOpen`.
pub struct Placed<'a, H> {
    /// Derived from the file pointer without a reference in between, so its address stays valid
    /// for the trampolines' later borrows (what Miri's Stacked Borrows checks).
    hooks: *mut H,
    open: PhantomData<&'a mut H>,
}

impl<H> Placed<'_, H> {
    /// Where the hooks live until the file's close: an address to find them by.
    pub fn address(&self) -> usize {
        self.hooks as usize
    }

    pub fn hooks(&mut self) -> &mut H {
        // SAFETY: placed and live until the file's close, which cannot run during its xOpen;
        // the borrow ends with this value, before SQLite can call the file.
        unsafe { &mut *self.hooks }
    }
}

/// A VFS SQLite has registered: `sqlite3_vfs_find`'s answers and its list are never freed while
/// in use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Registered(*mut ffi::sqlite3_vfs);

impl Registered {
    /// `sqlite3_vfs_find`: the default VFS for `None`.
    pub fn find(name: Option<&CStr>) -> Option<Registered> {
        // SAFETY: a plain lookup through the extension API, initialised before any VFS work.
        let vfs = unsafe { ffi::sqlite3_vfs_find(name.map_or(ptr::null(), CStr::as_ptr)) };
        (!vfs.is_null()).then_some(Registered(vfs))
    }

    /// Every registered VFS, default first, read under SQLite's mutex for the list (the one
    /// `sqlite3_vfs_register` takes). A VFS registered at the head meanwhile is not listed.
    pub fn all() -> Vec<Registered> {
        let mut all = Vec::new();
        let Some(Registered(mut vfs)) = Registered::find(None) else { return all };
        // SAFETY: as `find`; the list is walked under its mutex (not recursive: `find` takes it
        // too, so the head is found before), each entry a registered VFS.
        unsafe {
            let mutex = ffi::sqlite3_mutex_alloc(ffi::SQLITE_MUTEX_STATIC_MASTER);
            ffi::sqlite3_mutex_enter(mutex);
            while !vfs.is_null() {
                all.push(Registered(vfs));
                vfs = (*vfs).pNext;
            }
            ffi::sqlite3_mutex_leave(mutex);
        }
        all
    }

    /// # Safety
    /// `vfs` is registered (an answer of `SQLITE_FCNTL_VFS_POINTER`, say).
    pub unsafe fn from_raw(vfs: *mut ffi::sqlite3_vfs) -> Registered {
        Registered(vfs)
    }

    pub fn name(&self) -> &'static CStr {
        // SAFETY: a registered VFS has a static, NUL-terminated name.
        unsafe { CStr::from_ptr((*self.0).zName) }
    }

    pub fn os_file_size(&self) -> c_int {
        // SAFETY: a registered VFS.
        unsafe { (*self.0).szOsFile }
    }

    /// The `xRead` the journals of this VFS read with. A VFS may give its journals another table
    /// than its database files (SQLite's unix VFS: one without locks; cksumvfs.c and
    /// appendvfs.c: the table of the VFS below), so the wrapper asks: it opens a temporary
    /// journal (deleted on close, no name), reads its `xRead`, and closes it. `None` when that
    /// fails.
    pub fn journal_reads_with(&self) -> Read {
        let vfs = self.0;
        // SAFETY: an open and a close as SQLite makes them, into 8-aligned storage of szOsFile
        // bytes, through a registered VFS.
        unsafe {
            let mut storage = vec![0u64; usize::try_from((*vfs).szOsFile).ok()?.div_ceil(8).max(1)];
            let file: *mut ffi::sqlite3_file = storage.as_mut_ptr().cast();
            let flags = ffi::SQLITE_OPEN_TEMP_JOURNAL
                | ffi::SQLITE_OPEN_READWRITE
                | ffi::SQLITE_OPEN_CREATE
                | ffi::SQLITE_OPEN_EXCLUSIVE
                | ffi::SQLITE_OPEN_DELETEONCLOSE;
            let rc = (*vfs).xOpen?(vfs, ptr::null(), file, flags, ptr::null_mut());
            let methods = (*file).pMethods;
            if methods.is_null() {
                return None;
            }
            let read = (*methods).xRead;
            if let Some(close) = (*methods).xClose {
                close(file);
            }
            read.filter(|_| rc == ffi::SQLITE_OK)
        }
    }

    /// Build the wrapping VFS over this one, with hook `V`, named `alias` or, without one, as
    /// this VFS is; register it (as the default with `make_default`) for the life of the process.
    pub fn wrap_and_register<V: OpenHook>(&self, alias: Option<&'static CStr>, make_default: bool) -> Result<&'static CStr, String> {
        let vfs = Box::leak(Box::new(self.wrapper::<V>(alias)?));
        // SAFETY: `vfs` is leaked, so it outlives every connection that will use it.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, c_int::from(make_default)) };
        if rc != ffi::SQLITE_OK {
            return Err(format!("sqlite3_vfs_register failed ({rc})"));
        }
        // SAFETY: the name of a registered VFS, static.
        Ok(unsafe { CStr::from_ptr(vfs.zName) })
    }

    /// The wrapping VFS over this one, presenting the same `iVersion` and the same optional
    /// methods.
    pub fn wrapper<V: OpenHook>(&self, alias: Option<&'static CStr>) -> Result<ffi::sqlite3_vfs, String> {
        // SAFETY: a registered VFS.
        let b = unsafe { &*self.0 };
        let (v2, v3) = (b.iVersion >= 2, b.iVersion >= 3);
        let Some(os_file_size) = tail::os_file_size(b.szOsFile, V::ROOM) else {
            return Err(format!("the default VFS's files take {} bytes, which leaves no room for walguard's state", b.szOsFile));
        };
        Ok(ffi::sqlite3_vfs {
            iVersion: b.iVersion.min(3),
            szOsFile: os_file_size,
            mxPathname: b.mxPathname,
            pNext: ptr::null_mut(),
            zName: alias.map_or(b.zName, CStr::as_ptr),
            pAppData: self.0.cast(),
            xOpen: Some(open::<V>),
            xDelete: b.xDelete.and(Some(delete)),
            xAccess: b.xAccess.and(Some(access)),
            xFullPathname: b.xFullPathname.and(Some(full_pathname)),
            xDlOpen: b.xDlOpen.and(Some(dl_open)),
            xDlError: b.xDlError.and(Some(dl_error)),
            xDlSym: b.xDlSym.and(Some(dl_sym)),
            xDlClose: b.xDlClose.and(Some(dl_close)),
            xRandomness: b.xRandomness.and(Some(randomness)),
            xSleep: b.xSleep.and(Some(sleep)),
            xCurrentTime: b.xCurrentTime.and(Some(current_time)),
            xGetLastError: b.xGetLastError.and(Some(get_last_error)),
            xCurrentTimeInt64: if v2 { b.xCurrentTimeInt64.and(Some(current_time_int64)) } else { None },
            xSetSystemCall: if v3 { b.xSetSystemCall.and(Some(set_system_call)) } else { None },
            xGetSystemCall: if v3 { b.xGetSystemCall.and(Some(get_system_call)) } else { None },
            xNextSystemCall: if v3 { b.xNextSystemCall.and(Some(next_system_call)) } else { None },
        })
    }
}

/// The lower VFS of a wrapping VFS, kept in its `pAppData`.
///
/// # Safety
/// `vfs` is a wrapping VFS, as passed by SQLite to one of its methods.
unsafe fn lower_of(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: the caller vouches for `vfs`; pAppData was set when it was built, never changed.
    unsafe { (*vfs).pAppData.cast() }
}

unsafe extern "C" fn open<V: OpenHook>(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes a wrapping VFS, a buffer of its szOsFile bytes and its own
    // arguments, passed on; the lower xOpen sets pMethods whatever the outcome (null when
    // nothing is open), and a failed open is left for SQLite to close, as without the wrapper.
    unsafe {
        let lower_vfs = lower_of(vfs);
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        let rc = lower_open(lower_vfs, name, file, flags, out_flags);
        let methods = (*file).pMethods;
        if rc != ffi::SQLITE_OK || methods.is_null() || name.is_null() {
            return rc;
        }
        // The file is open with `methods` until its xClose; the Opened value does not outlive
        // this call.
        let lower = LowerFile::new(file, methods);
        V::opened(Opened { lower_vfs, name, flags, out_flags, lower, hook: PhantomData })
    }
}

/// A VFS method that forwards to the lower VFS's own. Each is installed only where the lower
/// VFS has the method (see `wrapper`), so the fallback (an error code, or nothing) is never
/// reached in practice: it is there so that nothing panics across the FFI boundary.
macro_rules! forward {
    ($($name:ident: $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty, or $fallback:expr;)*) => {$(
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs, $($arg: $ty),*) -> $ret {
            // SAFETY: SQLite calls a method of a wrapping VFS with that VFS, whose pAppData is
            // the registered lower VFS, and the method's own arguments, passed on as they are.
            unsafe {
                let lower_vfs = lower_of(vfs);
                match (*lower_vfs).$method {
                    Some(f) => f(lower_vfs, $($arg),*),
                    None => $fallback,
                }
            }
        }
    )*};
}

/// What `xDlSym` returns, as bindgen spells sqlite3.h's `void (*(*xDlSym)(...))(void)`.
type DlSymbol = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

forward! {
    delete: xDelete(name: *const c_char, sync_dir: c_int) -> c_int, or ffi::SQLITE_IOERR_DELETE;
    access: xAccess(name: *const c_char, flags: c_int, out: *mut c_int) -> c_int, or ffi::SQLITE_IOERR_ACCESS;
    full_pathname: xFullPathname(name: *const c_char, n: c_int, out: *mut c_char) -> c_int, or ffi::SQLITE_CANTOPEN;
    dl_open: xDlOpen(name: *const c_char) -> *mut c_void, or ptr::null_mut();
    dl_error: xDlError(n: c_int, out: *mut c_char) -> (), or ();
    dl_sym: xDlSym(handle: *mut c_void, symbol: *const c_char) -> DlSymbol, or None;
    dl_close: xDlClose(handle: *mut c_void) -> (), or ();
    randomness: xRandomness(n: c_int, out: *mut c_char) -> c_int, or 0;
    sleep: xSleep(micros: c_int) -> c_int, or 0;
    current_time: xCurrentTime(out: *mut f64) -> c_int, or ffi::SQLITE_ERROR;
    get_last_error: xGetLastError(n: c_int, out: *mut c_char) -> c_int, or 0;
    current_time_int64: xCurrentTimeInt64(out: *mut ffi::sqlite3_int64) -> c_int, or ffi::SQLITE_ERROR;
    set_system_call: xSetSystemCall(name: *const c_char, call: ffi::sqlite3_syscall_ptr) -> c_int, or ffi::SQLITE_NOTFOUND;
    get_system_call: xGetSystemCall(name: *const c_char) -> ffi::sqlite3_syscall_ptr, or None;
    next_system_call: xNextSystemCall(name: *const c_char) -> *const c_char, or ptr::null();
}
