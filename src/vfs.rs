//! The `walguard` VFS: registration and the VFS-level methods.
//!
//! Following SQLite's `ext/misc/cksumvfs.c`, the lower VFS (the default one when walguard
//! is loaded) lives in `pAppData` and every method is forwarded to it. Every file is opened by
//! the lower `xOpen` at the start of SQLite's allocation, and `szOsFile` has room for
//! walguard's struct after it (`shim.rs`): main database files are then guarded
//! (`file::open`), and so are the WAL files of guarded databases (`wal_file::open`); every
//! other file (journals, temp files) belongs to the lower VFS alone.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

use crate::{file, shim, wal_file};

/// The name the VFS is registered under besides the names of the VFSes it wraps.
pub use walguard_core::settings::VFS_NAME as NAME;

/// The lower VFS of `vfs`, kept in its `pAppData`.
///
/// # Safety
/// `vfs` is the walguard VFS, as passed by SQLite to one of its methods.
unsafe fn lower_of(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: the caller vouches for `vfs`; pAppData was set at registration and never changes.
    unsafe { (*vfs).pAppData.cast() }
}

/// Name of the VFS walguard wraps (the default one when it was loaded), for `walguard_status()`.
static LOWER_NAME: OnceLock<String> = OnceLock::new();
/// Every name walguard answers to: the default VFS's, its variants' and its own.
static NAMES: OnceLock<Vec<String>> = OnceLock::new();

pub fn lower_name() -> String {
    LOWER_NAME.get().cloned().unwrap_or_default()
}

pub fn names() -> &'static [String] {
    NAMES.get().map(Vec::as_slice).unwrap_or_default()
}

/// Who guards this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    /// This copy of the library registered the `walguard` VFS: it is in charge.
    InCharge,
    /// Another copy of the library (another path, perhaps another version: the pip package's
    /// and the installed one, or the preload's and an application's) registered it first. This
    /// copy defers to it: wrapping files the other copy guards would stack two guards whose
    /// state each finds through the other's method table.
    Deferred,
}

/// Register the VFS and make it the default, once per process. Later calls report the
/// first outcome and change nothing.
pub fn register() -> Result<Registration, String> {
    static OUTCOME: OnceLock<Result<Registration, String>> = OnceLock::new();
    // SAFETY: the extension API is initialised before register() is called.
    OUTCOME.get_or_init(|| unsafe { register_once() }).clone()
}

/// SQLite finds a VFS by name (`sqlite3_vfs_find`) for every `ATTACH` (under the name of the
/// attaching connection's VFS), every `vfs=` URI parameter and every `sqlite3_open_v2` that
/// names one, and it returns the first VFS of its list with that name. So walguard registers
/// one wrapper under the default VFS's own name, as the new default (the head of the list),
/// and one under each name of that VFS's variants (`unix-excl`, `unix-dotfile`, `unix-none`:
/// the registered VFSes named `<default>-...`), ahead of the VFSes they wrap; plus `walguard`,
/// the name a second copy of the library looks for. The VFSes it wraps stay registered, under
/// the wrappers, where only walguard reaches them.
///
/// # Safety
/// The extension API must be initialised.
unsafe fn register_once() -> Result<Registration, String> {
    // SAFETY: plain lookups through the initialised API.
    let (existing, lower_vfs) = unsafe { (ffi::sqlite3_vfs_find(NAME.as_ptr()), ffi::sqlite3_vfs_find(ptr::null())) };
    if !existing.is_null() {
        return Ok(Registration::Deferred);
    }
    if lower_vfs.is_null() {
        return Err("walguard: SQLite has no default VFS to wrap".to_owned());
    }
    // SAFETY: `lower_vfs` is the head of SQLite's list of VFSes.
    let variants = unsafe { variants_of(lower_vfs) };
    // SAFETY: a registered VFS has a static, NUL-terminated name.
    let name = unsafe { CStr::from_ptr((*lower_vfs).zName) };
    LOWER_NAME.get_or_init(|| name.to_string_lossy().into_owned());
    let mut names = Vec::new();
    // Variants first: registered as non-defaults, each goes right after the head of the list,
    // ahead of the VFS it wraps; then the default, at the head; then `walguard`.
    let wrappers = variants.iter().map(|&v| (v, None, false)).chain([(lower_vfs, None, true), (lower_vfs, Some(NAME), false)]);
    for (lower, alias, make_default) in wrappers {
        // SAFETY: `lower` is a registered VFS; registered VFSes are never freed while in use.
        let vfs = Box::leak(Box::new(unsafe { wrap(lower, alias) }?));
        // SAFETY: `vfs` is leaked, so it outlives every connection that will use it.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, c_int::from(make_default)) };
        if rc != ffi::SQLITE_OK {
            return Err(format!("walguard: sqlite3_vfs_register failed ({rc})"));
        }
        // SAFETY: `wrap` set a static, NUL-terminated name.
        names.push(unsafe { CStr::from_ptr(vfs.zName) }.to_string_lossy().into_owned());
    }
    NAMES.get_or_init(|| names);
    Ok(Registration::InCharge)
}

/// The registered VFSes named `<name of default>-...`: `unix-excl`, `unix-dotfile` and
/// `unix-none` where the default is `unix`, which reach the same files with other locking.
/// Only those whose files take as many bytes as the default's: walguard's struct sits at one
/// offset from every file pointer (`shim::tail_offset`), which SQLite's own variants share.
///
/// # Safety
/// `default` is the head of SQLite's list of VFSes (`sqlite3_vfs_find(NULL)`).
unsafe fn variants_of(default: *mut ffi::sqlite3_vfs) -> Vec<*mut ffi::sqlite3_vfs> {
    // SAFETY: the list is walked under SQLite's own mutex for it (`sqlite3_vfs_register` takes
    // the same static mutex), each VFS with its static, NUL-terminated name.
    unsafe {
        let mutex = ffi::sqlite3_mutex_alloc(ffi::SQLITE_MUTEX_STATIC_MASTER);
        ffi::sqlite3_mutex_enter(mutex);
        let prefix = [CStr::from_ptr((*default).zName).to_bytes(), b"-"].concat();
        let mut variants = Vec::new();
        let mut vfs = (*default).pNext;
        while !vfs.is_null() {
            if CStr::from_ptr((*vfs).zName).to_bytes().starts_with(&prefix) && (*vfs).szOsFile == (*default).szOsFile {
                variants.push(vfs);
            }
            vfs = (*vfs).pNext;
        }
        ffi::sqlite3_mutex_leave(mutex);
        variants
    }
}

/// Build a walguard VFS on top of `lower_vfs`, presenting the same `iVersion` and the same
/// optional methods, named `alias` or, without one, as `lower_vfs` is.
///
/// # Safety
/// `lower_vfs` points to a valid, registered VFS.
pub unsafe fn wrap(lower_vfs: *mut ffi::sqlite3_vfs, alias: Option<&'static CStr>) -> Result<ffi::sqlite3_vfs, String> {
    // SAFETY: the caller vouches for `lower_vfs`.
    let b = unsafe { &*lower_vfs };
    let v3 = b.iVersion >= 3;
    let v2 = b.iVersion >= 2;
    // Room for walguard's struct after the lower file (see `shim.rs`).
    let Some(os_file_size) = shim::os_file_size(b.szOsFile) else {
        return Err(format!("walguard: the default VFS's files take {} bytes, which leaves no room for walguard's state", b.szOsFile));
    };
    Ok(ffi::sqlite3_vfs {
        iVersion: b.iVersion.min(3),
        szOsFile: os_file_size,
        mxPathname: b.mxPathname,
        pNext: ptr::null_mut(),
        zName: alias.map_or(b.zName, CStr::as_ptr),
        pAppData: lower_vfs.cast(),
        xOpen: Some(open),
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

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    out: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes our VFS, a buffer of szOsFile bytes and its own arguments.
    unsafe {
        let lower_vfs = lower_of(vfs);
        if name.is_null() {
            // A temporary file: nothing anyone else could share.
        } else if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            return file::open(lower_vfs, name, out, flags, out_flags);
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
            return wal_file::open(lower_vfs, name, out, flags, out_flags);
        } else if flags & ffi::SQLITE_OPEN_MAIN_JOURNAL != 0 {
            return file::open_journal(lower_vfs, name, out, flags, out_flags);
        }
        // Other journals and temporary files belong to the lower VFS outright.
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        lower_open(lower_vfs, name, out, flags, out_flags)
    }
}

/// A VFS method that forwards to the lower VFS's own. Each is installed only where the lower
/// VFS has the method (see `wrap`), so the fallback (an error code, or nothing) is never
/// reached in practice: it is there so that nothing panics across the FFI boundary.
macro_rules! forward {
    ($($name:ident: $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty, or $fallback:expr;)*) => {$(
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs, $($arg: $ty),*) -> $ret {
            // SAFETY: SQLite calls a method of the walguard VFS with that VFS, whose pAppData is
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
