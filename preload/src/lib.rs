//! # libwalguard_preload.so: walguard for a whole process, without touching its code
//!
//! `LD_PRELOAD=/usr/local/lib/libwalguard_preload.so app` (or a line in `/etc/ld.so.preload`)
//! guards every connection of `app` whose `sqlite3_open*` calls go through the dynamic
//! symbol table: the system's shared `libsqlite3`, and bundled copies that export their API
//! (pysqlite3-binary, npm's `sqlite3`), each with its own copy of walguard.
//!
//! ## Why a second library
//! It works by interposing `sqlite3_open`, `sqlite3_open_v2` and `sqlite3_open16`: a
//! preloaded definition comes first in the process's global symbol scope. The loadable
//! extension must not carry such symbols: SQLite loads extensions with `RTLD_GLOBAL`, so a
//! `libwalguard.so` exporting `sqlite3_open_v2` would be interposed on every library loaded
//! after it. And this library must not depend on any SQLite: it has no `DT_NEEDED` on
//! `libsqlite3`, and loads `libwalguard.so` (from its own directory, or `$WALGUARD_LIB`) with
//! `RTLD_LOCAL`.
//!
//! ## Which SQLite a call goes to
//! Every interposed call goes to the definition the caller would have bound to without this
//! library. ELF looks in the global scope first (the program, its libraries, preloads and
//! `RTLD_GLOBAL` objects), then in the calling object's own scope (itself and its
//! dependencies, for an object loaded with `RTLD_LOCAL`). So: `dlsym(RTLD_NEXT, ...)`, and
//! when the global scope has no SQLite, the scope of the object that made the call, found
//! with `dladdr` on the return address (which the exported functions, a few instructions of
//! assembly, pass on). That is how Python's `_sqlite3` and Tcl's `libtclsqlite3` reach the
//! shared libsqlite3 they load privately, and how pysqlite3-binary and npm's `sqlite3`, which
//! carry their own SQLite and export its API, reach their own copy rather than another one of
//! the process.
//!
//! ## What happens at the first open of each SQLite
//! The first interposed open whose definition lives in a given object (a SQLite library, or
//! a module bundling one) decides for that SQLite, once:
//! - it is *guarded* when it is 3.31.1 or later (walguard's floor), can load extensions
//!   (`sqlite3_load_extension` is there and `OMIT_LOAD_EXTENSION` is not a compile option) and
//!   is not an encrypting build (no `sqlite3_key`: walguard reads the database header, which those encrypt).
//!   The preload's auto-extension, which calls that SQLite's copy of walguard's entry point
//!   (`sqlite3_walguard_auto_init`), is registered with that SQLite's `sqlite3_auto_extension`,
//!   then a throwaway `:memory:` connection is opened and closed
//!   with that SQLite: it initialises SQLite, and walguard registers its VFS as the default.
//!   Only then does the application's open proceed, so its first connection, like every
//!   later one, opens through walguard, and the files it ATTACHes later are guarded too.
//!   The auto-extension stays registered, so a connection opened with an explicit
//!   `vfs=unix` has its files adopted at the end of its open.
//! - otherwise it is left *untouched*: nothing is registered, the calls go straight through.
//!
//! Each guarded SQLite needs its own walguard (the extension keeps one host API table per
//! copy): the first uses `libwalguard.so` itself, each further one a private copy of it
//! loaded from a memfd.
//!
//! Nothing happens before the first open, so an application's `sqlite3_config` calls still
//! come before SQLite initialises. `WALGUARD_PRELOAD_LOG=1` prints each decision on stderr; a
//! SQLite that should take walguard and does not always gets a line there.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;

const RTLD_LAZY: c_int = 1;
const RTLD_NOW: c_int = 2;
const RTLD_LOCAL: c_int = 0;
const RTLD_NOLOAD: c_int = 4;
/// glibc's `RTLD_NEXT`: look the symbol up in the objects after this one.
const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;
const MFD_CLOEXEC: c_uint = 1;

const SQLITE_OK: c_int = 0;
const SQLITE_ERROR: c_int = 1;
const SQLITE_OPEN_READWRITE: c_int = 0x2;
const SQLITE_OPEN_CREATE: c_int = 0x4;
/// The oldest SQLite walguard's entry point accepts: the headers its bindings come from
/// (`third_party/`, selected in `.cargo/config.toml`), reported as `sqlite_floor`.
const OLDEST: c_int = 3_031_001;

#[repr(C)]
struct DlInfo {
    dli_fname: *const c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const c_char,
    dli_saddr: *mut c_void,
}

/// The head of `sqlite3_vfs`, up to its name.
#[repr(C)]
#[allow(dead_code)]
struct VfsHead {
    i_version: c_int,
    sz_os_file: c_int,
    mx_pathname: c_int,
    p_next: *mut c_void,
    z_name: *const c_char,
}

unsafe extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlclose(handle: *mut c_void) -> c_int;
    fn dlerror() -> *const c_char;
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    fn memfd_create(name: *const c_char, flags: c_uint) -> c_int;
}

type OpenV2 = unsafe extern "C" fn(*const c_char, *mut *mut c_void, c_int, *const c_char) -> c_int;
type Open = unsafe extern "C" fn(*const c_char, *mut *mut c_void) -> c_int;
type Open16 = unsafe extern "C" fn(*const c_void, *mut *mut c_void) -> c_int;
type AutoExtension = unsafe extern "C" fn(Option<unsafe extern "C" fn()>) -> c_int;
type Close = unsafe extern "C" fn(*mut c_void) -> c_int;
type ErrMsg = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type VfsFind = unsafe extern "C" fn(*const c_char) -> *mut VfsHead;
type VersionNumber = unsafe extern "C" fn() -> c_int;
type CompileOptionUsed = unsafe extern "C" fn(*const c_char) -> c_int;

/// A loaded object, found from an address inside it.
struct Object {
    base: usize,
    path: CString,
}

fn object_of(address: *const c_void) -> Option<Object> {
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr fills `info`; dli_fname is a NUL-terminated path owned by the loader.
    unsafe {
        if address.is_null() || dladdr(address, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        Some(Object { base: info.dli_fbase as usize, path: CStr::from_ptr(info.dli_fname).to_owned() })
    }
}

/// This library's load address, to never resolve a symbol to ourselves.
fn own_base() -> usize {
    static BASE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| object_of(own_base as *const c_void).map_or(0, |o| o.base))
}

/// `symbol` as the object at `path` binds it in its own scope (itself, then its
/// dependencies); null when that object is not loaded or the scope has none.
fn lookup_in(path: &CStr, symbol: &CStr) -> *mut c_void {
    // SAFETY: RTLD_NOLOAD never loads anything; the handle is released after the lookup (the
    // object stays loaded: it is in use by the caller).
    unsafe {
        let handle = dlopen(path.as_ptr(), RTLD_LAZY | RTLD_NOLOAD);
        if handle.is_null() {
            return std::ptr::null_mut();
        }
        let found = dlsym(handle, symbol.as_ptr());
        if found.is_null() {
            dlerror(); // as in resolve: leave no failed look-up behind
        }
        dlclose(handle);
        found
    }
}

/// The definition of `symbol` that a call from `caller` (a return address) would have
/// reached without this library: the next one in the global scope, else the one in the
/// calling object's own scope.
fn resolve(symbol: &CStr, caller: *const c_void) -> *mut c_void {
    let own = own_base();
    let not_ours = |p: *mut c_void| !p.is_null() && object_of(p).is_some_and(|o| o.base != own);
    // SAFETY: dlsym with a NUL-terminated name.
    let global = unsafe { dlsym(RTLD_NEXT, symbol.as_ptr()) };
    if not_ours(global) {
        return global;
    }
    if global.is_null() {
        // SAFETY: consumes the message of the failed look-up, so the application's next
        // dlerror() does not report it.
        unsafe { dlerror() };
    }
    match object_of(caller) {
        Some(object) if object.base != own => {
            let local = lookup_in(&object.path, symbol);
            if not_ours(local) { local } else { std::ptr::null_mut() }
        }
        _ => std::ptr::null_mut(),
    }
}

fn logging() -> bool {
    std::env::var_os("WALGUARD_PRELOAD_LOG").is_some_and(|v| v == "1")
}

/// Where libwalguard.so is: `$WALGUARD_LIB`, or next to this library.
fn walguard_path() -> Option<CString> {
    if let Some(path) = std::env::var_os("WALGUARD_LIB") {
        return CString::new(path.into_encoded_bytes()).ok();
    }
    let own = object_of(walguard_path as *const c_void)?;
    let own = own.path.to_bytes();
    // The directory part, with its trailing slash ("" for a bare name).
    let dir = own.iter().rposition(|&b| b == b'/').map_or(&[][..], |i| &own[..=i]);
    CString::new([dir, b"libwalguard.so"].concat()).ok()
}

fn dl_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated message.
    unsafe {
        let e = dlerror();
        if e.is_null() { "unknown error".to_owned() } else { CStr::from_ptr(e).to_string_lossy().into_owned() }
    }
}

/// walguard's entry point from `libwalguard.so` itself (`private` false), or from a private
/// copy of it: the same bytes in a memfd, a distinct object with its own state. The memfd
/// stays open, so its `/proc/self/fd` name is never reused for another copy.
fn walguard_entry(path: &CStr, private: bool) -> Result<*mut c_void, String> {
    let shown = path.to_string_lossy();
    // SAFETY: loading our own extension privately; results are checked for null.
    unsafe {
        let handle = if private {
            let fd = memfd_create(c"walguard".as_ptr(), MFD_CLOEXEC);
            if fd < 0 {
                return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
            }
            let bytes = std::fs::read(std::ffi::OsStr::from_bytes(path.to_bytes())).map_err(|e| format!("{shown}: {e}"))?;
            let mut file = std::mem::ManuallyDrop::new(std::fs::File::from_raw_fd(fd));
            file.write_all(&bytes).map_err(|e| format!("writing a copy of {shown}: {e}"))?;
            let name = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
            dlopen(name.as_ptr(), RTLD_NOW | RTLD_LOCAL)
        } else {
            dlopen(path.as_ptr(), RTLD_NOW | RTLD_LOCAL)
        };
        if handle.is_null() {
            return Err(dl_error());
        }
        let init = dlsym(handle, c"sqlite3_walguard_auto_init".as_ptr());
        if init.is_null() { Err(format!("{shown}: no sqlite3_walguard_auto_init")) } else { Ok(init) }
    }
}

type Init = unsafe extern "C" fn(*mut c_void, *mut *mut c_char, *const c_void) -> c_int;

/// The walguard entry point (`sqlite3_walguard_auto_init` of its copy) of each guarded SQLite,
/// by the address of the API table that SQLite hands its auto-extensions.
static ENTRIES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

thread_local! {
    /// The entry point of the copy this thread is loading into a SQLite (0 when none).
    static PENDING: Cell<usize> = const { Cell::new(0) };
}

/// The one auto-extension the preload registers, with every SQLite it guards: it calls the
/// entry point of that SQLite's copy of walguard, `sqlite3_walguard_auto_init`, found by
/// `dlsym` on that copy's own handle and called by its address, so a copy SQLite loaded with
/// `RTLD_GLOBAL` (`load_extension`) never answers for another. That entry point adopts only the
/// main file of the connection being opened and reads nothing: the open stays exactly the
/// application's.
///
/// # Safety
/// Called by SQLite as an auto-extension, with a connection, an error slot and its API table.
unsafe extern "C" fn entry(db: *mut c_void, err: *mut *mut c_char, api: *const c_void) -> c_int {
    let init = {
        let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
        let pending = PENDING.with(Cell::get);
        if pending != 0 {
            entries.retain(|&(a, _)| a != api as usize);
            entries.push((api as usize, pending));
            pending
        } else {
            match entries.iter().find(|&&(a, _)| a == api as usize) {
                Some(&(_, init)) => init,
                None => return SQLITE_OK, // a SQLite being prepared by another thread
            }
        }
    };
    // SAFETY: `init` is sqlite3_walguard_auto_init of the copy loaded for the SQLite owning `api`.
    unsafe { std::mem::transmute::<usize, Init>(init)(db, err, api) }
}

/// What was decided for one SQLite (one object defining the API).
struct Target {
    base: usize,
    guarded: bool,
}

static TARGETS: Mutex<Vec<Target>> = Mutex::new(Vec::new());

thread_local! {
    /// Set while this thread prepares a SQLite: calls made meanwhile go straight through.
    static PREPARING: Cell<bool> = const { Cell::new(false) };
}

/// Decide once for the SQLite that defines `real`: guard it, or leave it untouched.
fn prepare(real: *mut c_void) {
    if PREPARING.with(Cell::get) {
        return;
    }
    let Some(object) = object_of(real) else { return };
    let mut targets = TARGETS.lock().unwrap_or_else(|e| e.into_inner());
    if targets.iter().any(|t| t.base == object.base) {
        return;
    }
    PREPARING.with(|p| p.set(true));
    let guarded_before = targets.iter().filter(|t| t.guarded).count();
    let result = guard(&object, guarded_before);
    PREPARING.with(|p| p.set(false));
    let shown = object.path.to_string_lossy();
    let guarded = match result {
        Ok(version) => {
            if logging() {
                eprintln!("walguard preload: guarded SQLite {version} of {shown}");
            }
            true
        }
        Err(Skip::Untouched(why)) => {
            if logging() {
                eprintln!("walguard preload: left SQLite of {shown} untouched: {why}");
            }
            false
        }
        Err(Skip::Failed(why)) => {
            eprintln!("walguard preload: SQLite of {shown} is NOT guarded: {why}");
            false
        }
    };
    targets.push(Target { base: object.base, guarded });
}

enum Skip {
    /// A SQLite walguard cannot be loaded into: said only with `WALGUARD_PRELOAD_LOG=1`.
    Untouched(String),
    /// It should have been guarded: always said.
    Failed(String),
}

fn version_text(v: c_int) -> String {
    format!("{}.{}.{}", v / 1_000_000, v / 1000 % 1000, v % 1000)
}

/// Load walguard into the SQLite defined by `object`; `guarded_before` SQLites of this
/// process already have a walguard. Returns the version guarded.
fn guard(object: &Object, guarded_before: usize) -> Result<String, Skip> {
    // Only definitions inside the object itself: its dependencies are another SQLite.
    let sym = |name: &CStr| {
        let p = lookup_in(&object.path, name);
        if object_of(p).is_some_and(|o| o.base == object.base) { p } else { std::ptr::null_mut() }
    };
    let untouched = |why: &str| Err(Skip::Untouched(why.to_owned()));
    let version = sym(c"sqlite3_libversion_number");
    if version.is_null() {
        return untouched("no sqlite3_libversion_number");
    }
    // SAFETY: each pointer is the named SQLite function of that object, called with its C
    // signature; the connection opened here is closed before returning.
    unsafe {
        let version = std::mem::transmute::<*mut c_void, VersionNumber>(version)();
        if version < OLDEST {
            return untouched(&format!("SQLite {} is older than {}", version_text(version), version_text(OLDEST)));
        }
        if sym(c"sqlite3_load_extension").is_null() {
            return untouched("built without extension loading");
        }
        let used = sym(c"sqlite3_compileoption_used");
        if !used.is_null() && std::mem::transmute::<*mut c_void, CompileOptionUsed>(used)(c"OMIT_LOAD_EXTENSION".as_ptr()) != 0 {
            return untouched("built with SQLITE_OMIT_LOAD_EXTENSION");
        }
        if !sym(c"sqlite3_key").is_null() || !sym(c"sqlite3_key_v2").is_null() {
            return untouched("an encrypting build (sqlite3_key): walguard reads the database header in clear");
        }
        let [auto_extension, cancel, open_v2, close, errmsg, vfs_find] = [
            c"sqlite3_auto_extension",
            c"sqlite3_cancel_auto_extension",
            c"sqlite3_open_v2",
            c"sqlite3_close",
            c"sqlite3_errmsg",
            c"sqlite3_vfs_find",
        ]
        .map(sym);
        if [auto_extension, cancel, open_v2, close, errmsg, vfs_find].iter().any(|p| p.is_null()) {
            return untouched("part of the SQLite API is missing");
        }
        let auto_extension = std::mem::transmute::<*mut c_void, AutoExtension>(auto_extension);
        let cancel = std::mem::transmute::<*mut c_void, AutoExtension>(cancel);
        let open_v2 = std::mem::transmute::<*mut c_void, OpenV2>(open_v2);
        let close = std::mem::transmute::<*mut c_void, Close>(close);
        let errmsg = std::mem::transmute::<*mut c_void, ErrMsg>(errmsg);
        let vfs_find = std::mem::transmute::<*mut c_void, VfsFind>(vfs_find);

        let Some(path) = walguard_path() else { return Err(Skip::Failed("no path for libwalguard.so".to_owned())) };
        // The first SQLite gets libwalguard.so itself, unless that copy turns out to be
        // taken (the application loaded it into another SQLite): then a private copy.
        let attempts: &[bool] = if guarded_before == 0 { &[false, true] } else { &[true] };
        let mut why = String::new();
        for &private in attempts {
            let init = walguard_entry(&path, private).map_err(Skip::Failed)?;
            // SQLite calls auto-extensions with the three arguments of an entry point;
            // `void(*)(void)` is only how sqlite3.h spells the pointer type.
            let dispatch = std::mem::transmute::<Init, unsafe extern "C" fn()>(entry as Init);
            auto_extension(Some(dispatch));
            let mut db = std::ptr::null_mut();
            PENDING.with(|p| p.set(init as usize));
            let rc = open_v2(c":memory:".as_ptr(), &mut db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::ptr::null());
            PENDING.with(|p| p.set(0));
            if rc != SQLITE_OK {
                why = if db.is_null() { format!("error {rc}") } else { CStr::from_ptr(errmsg(db)).to_string_lossy().into_owned() };
            }
            close(db);
            // walguard registers itself as `walguard` besides the default VFS's own names.
            if rc == SQLITE_OK && !vfs_find(c"walguard".as_ptr()).is_null() {
                return Ok(version_text(version));
            }
            cancel(Some(dispatch));
            if why.is_empty() {
                why = "walguard is not registered after loading".to_owned();
            }
        }
        Err(Skip::Failed(why))
    }
}

/// The SQLite function the caller meant, after deciding for its SQLite.
fn real_open(symbol: &CStr, caller: *const c_void) -> *mut c_void {
    let real = resolve(symbol, caller);
    if !real.is_null() {
        prepare(real);
    }
    real
}

// The exported functions pass their return address (inside the calling object) on to the
// Rust implementations as one more argument, and jump there: the implementation returns
// straight to the caller.
macro_rules! trampoline {
    ($name:ident, $target:ident, $x86_reg:literal, $arm_reg:literal, ($($arg:ident: $ty:ty),*)) => {
        /// # Safety
        /// Called as SQLite's function of the same name.
        #[unsafe(naked)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            #[cfg(target_arch = "x86_64")]
            core::arch::naked_asm!(concat!("mov ", $x86_reg, ", [rsp]"), "jmp {f}", f = sym $target);
            #[cfg(target_arch = "aarch64")]
            core::arch::naked_asm!(concat!("mov ", $arm_reg, ", x30"), "b {f}", f = sym $target);
        }
    };
}

trampoline!(sqlite3_open_v2, open_v2_from, "r8", "x4", (name: *const c_char, db: *mut *mut c_void, flags: c_int, vfs: *const c_char));
trampoline!(sqlite3_open, open_from, "rdx", "x2", (name: *const c_char, db: *mut *mut c_void));
trampoline!(sqlite3_open16, open16_from, "rdx", "x2", (name: *const c_void, db: *mut *mut c_void));

unsafe extern "C" fn open_v2_from(
    name: *const c_char,
    db: *mut *mut c_void,
    flags: c_int,
    vfs: *const c_char,
    caller: *const c_void,
) -> c_int {
    let real = real_open(c"sqlite3_open_v2", caller);
    if real.is_null() {
        return SQLITE_ERROR;
    }
    // SAFETY: `real` is the caller's definition of this very function.
    unsafe { std::mem::transmute::<*mut c_void, OpenV2>(real)(name, db, flags, vfs) }
}

unsafe extern "C" fn open_from(name: *const c_char, db: *mut *mut c_void, caller: *const c_void) -> c_int {
    let real = real_open(c"sqlite3_open", caller);
    if real.is_null() {
        return SQLITE_ERROR;
    }
    // SAFETY: as above.
    unsafe { std::mem::transmute::<*mut c_void, Open>(real)(name, db) }
}

unsafe extern "C" fn open16_from(name: *const c_void, db: *mut *mut c_void, caller: *const c_void) -> c_int {
    let real = real_open(c"sqlite3_open16", caller);
    if real.is_null() {
        return SQLITE_ERROR;
    }
    // SAFETY: as above.
    unsafe { std::mem::transmute::<*mut c_void, Open16>(real)(name, db) }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the preload's trampolines are written for x86_64 and aarch64");
