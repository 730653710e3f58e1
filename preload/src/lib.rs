//! # libwalguard_preload.so: walguard for a whole process, without touching its code
//!
//! `LD_PRELOAD=/usr/local/lib/libwalguard_preload.so app` (or a line in `/etc/ld.so.preload`)
//! guards every connection of `app` that goes through the system's shared `libsqlite3`,
//! its first connection included.
//!
//! ## Why a second library
//! It works by interposing `sqlite3_open`, `sqlite3_open_v2` and `sqlite3_open16`: a
//! preloaded definition comes first in the process's global symbol scope. The loadable
//! extension must not carry such symbols: SQLite loads extensions with `RTLD_GLOBAL`, so a
//! `libwalguard.so` exporting `sqlite3_open_v2` would be interposed on every library loaded
//! after it. And this library must not depend on any SQLite: it has no `DT_NEEDED` on
//! `libsqlite3`, finds SQLite only through `dlsym(RTLD_NEXT, ...)`, and loads
//! `libwalguard.so` (from its own directory, or `$WALGUARD_LIB`) with `RTLD_LOCAL`.
//!
//! ## What happens
//! At the first `sqlite3_open*` call through the dynamic symbol table, if the definition
//! behind it is the shared `libsqlite3` (checked with `dladdr`), walguard's entry point is
//! (`sqlite3_walguard_auto_init`) is registered with that library's `sqlite3_auto_extension`,
//! then the open proceeds. SQLite
//! runs the entry point at the end of every open: the first one registers the `walguard`
//! VFS as the default and guards that connection's files in place; every later connection
//! opens through walguard. Doing it at the first open, not in a constructor, leaves the
//! application's `sqlite3_config` calls (which must precede initialisation) untouched.
//!
//! A process with no shared SQLite never calls these symbols, and one that bundles its own
//! SQLite (APSW, better-sqlite3, rusqlite's `bundled`) resolves them inside itself: either
//! way the preload does nothing.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::OnceLock;

const RTLD_LAZY: c_int = 1;
const RTLD_NOW: c_int = 2;
const RTLD_LOCAL: c_int = 0;
const RTLD_NOLOAD: c_int = 4;
/// glibc's `RTLD_NEXT`: look the symbol up in the objects after this one.
const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;

#[repr(C)]
struct DlInfo {
    dli_fname: *const c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const c_char,
    dli_saddr: *mut c_void,
}

unsafe extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlerror() -> *const c_char;
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
}

type OpenV2 = unsafe extern "C" fn(*const c_char, *mut *mut c_void, c_int, *const c_char) -> c_int;
type Open = unsafe extern "C" fn(*const c_char, *mut *mut c_void) -> c_int;
type Open16 = unsafe extern "C" fn(*const c_void, *mut *mut c_void) -> c_int;
type AutoExtension = unsafe extern "C" fn(Option<unsafe extern "C" fn()>) -> c_int;

const SQLITE_ERROR: c_int = 1;

/// The definition of `symbol` that the caller would have reached without this library: the
/// next one in the global scope, or else the shared libsqlite3's. The second case is a
/// program that loads its SQLite binding with `RTLD_LOCAL` (Python's `_sqlite3`, Tcl's
/// `package require sqlite3`): its libsqlite3 is then outside the global scope, where
/// `RTLD_NEXT` looks, and is found by its soname instead.
fn next(symbol: &CStr) -> *mut c_void {
    // SAFETY: dlsym/dlopen with NUL-terminated names; RTLD_NOLOAD never loads anything.
    unsafe {
        let global = dlsym(RTLD_NEXT, symbol.as_ptr());
        if !global.is_null() {
            return global;
        }
        let shared = dlopen(c"libsqlite3.so.0".as_ptr(), RTLD_LAZY | RTLD_NOLOAD);
        if shared.is_null() { shared } else { dlsym(shared, symbol.as_ptr()) }
    }
}

/// Is `address` inside the shared libsqlite3 (not a copy bundled into something else)?
fn in_shared_libsqlite3(address: *mut c_void) -> bool {
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr fills `info`; dli_fname is a NUL-terminated path owned by the loader.
    unsafe {
        if address.is_null() || dladdr(address, &mut info) == 0 || info.dli_fname.is_null() {
            return false;
        }
        let path = CStr::from_ptr(info.dli_fname).to_bytes();
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        name.starts_with(b"libsqlite3.so")
    }
}

/// Where libwalguard.so is: `$WALGUARD_LIB`, or next to this library.
fn walguard_path() -> Option<CString> {
    if let Some(path) = std::env::var_os("WALGUARD_LIB") {
        return CString::new(path.into_encoded_bytes()).ok();
    }
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: as in_shared_libsqlite3; the address is one of this library's functions.
    unsafe {
        if dladdr(walguard_path as *const c_void, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        let own = CStr::from_ptr(info.dli_fname).to_bytes();
        // The directory part, with its trailing slash ("" for a bare name).
        let dir = own.iter().rposition(|&b| b == b'/').map_or(&[][..], |i| &own[..=i]);
        CString::new([dir, b"libwalguard.so"].concat()).ok()
    }
}

/// Register walguard with the shared libsqlite3, once per process. Called from the first
/// interposed open, whose `real` definition tells which SQLite the process uses.
fn register_once(real: *mut c_void) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if !in_shared_libsqlite3(real) {
            return; // not the shared library: not ours to touch
        }
        let Some(path) = walguard_path() else { return };
        // SAFETY: loading our own extension privately; dlsym results are checked for null.
        unsafe {
            let handle = dlopen(path.as_ptr(), RTLD_NOW | RTLD_LOCAL);
            let init = if handle.is_null() { std::ptr::null_mut() } else { dlsym(handle, c"sqlite3_walguard_auto_init".as_ptr()) };
            let auto_extension = next(c"sqlite3_auto_extension");
            if init.is_null() || auto_extension.is_null() {
                let why = if handle.is_null() {
                    CStr::from_ptr(dlerror()).to_string_lossy().into_owned()
                } else {
                    "entry point not found".to_owned()
                };
                eprintln!("walguard preload: cannot load {}: {why}; SQLite is NOT guarded", path.to_string_lossy());
                return;
            }
            let auto_extension: AutoExtension = std::mem::transmute(auto_extension);
            // SQLite calls auto-extensions with the three arguments of an entry point;
            // `void(*)(void)` is only how sqlite3.h spells the pointer type.
            auto_extension(Some(std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(init)));
        }
    });
}

/// The real `symbol` for an interposed open, after registering walguard if it is the shared
/// libsqlite3's; `None` when there is none to call.
fn real_open(symbol: &CStr) -> Option<*mut c_void> {
    let real = next(symbol);
    if real.is_null() {
        return None;
    }
    register_once(real);
    Some(real)
}

/// # Safety
/// Called as SQLite's `sqlite3_open_v2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_open_v2(name: *const c_char, db: *mut *mut c_void, flags: c_int, vfs: *const c_char) -> c_int {
    let Some(real) = real_open(c"sqlite3_open_v2") else { return SQLITE_ERROR };
    // SAFETY: `real` is the next definition of this very function.
    unsafe { std::mem::transmute::<*mut c_void, OpenV2>(real)(name, db, flags, vfs) }
}

/// # Safety
/// Called as SQLite's `sqlite3_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_open(name: *const c_char, db: *mut *mut c_void) -> c_int {
    let Some(real) = real_open(c"sqlite3_open") else { return SQLITE_ERROR };
    // SAFETY: `real` is the next definition of this very function.
    unsafe { std::mem::transmute::<*mut c_void, Open>(real)(name, db) }
}

/// # Safety
/// Called as SQLite's `sqlite3_open16`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_open16(name: *const c_void, db: *mut *mut c_void) -> c_int {
    let Some(real) = real_open(c"sqlite3_open16") else { return SQLITE_ERROR };
    // SAFETY: `real` is the next definition of this very function.
    unsafe { std::mem::transmute::<*mut c_void, Open16>(real)(name, db) }
}
