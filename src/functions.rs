//! SQL functions: `walguard_version()` and `walguard_status()`.
//!
//! Registered on the loading connection and, through an auto-extension, on every connection
//! opened afterwards in the process.

use std::ffi::{c_char, c_int};

use libsqlite3_sys as ffi;
use walguard_core::status::Status;

use crate::stats::{self, Event};
use crate::{config, host, vfs};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Register the functions on `db`.
///
/// # Safety
/// `db` is a valid connection; the extension API is initialised.
pub unsafe fn register(db: *mut ffi::sqlite3) -> c_int {
    let functions: [(&std::ffi::CStr, Func, c_int); 2] = [
        (c"walguard_version", version, ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS),
        (c"walguard_status", status, ffi::SQLITE_INNOCUOUS),
    ];
    for (name, func, flags) in functions {
        // SAFETY: static name, no user data, no destructor.
        let rc = unsafe {
            ffi::sqlite3_create_function_v2(
                db,
                name.as_ptr(),
                0,
                ffi::SQLITE_UTF8 | flags,
                std::ptr::null_mut(),
                Some(func),
                None,
                None,
                None,
            )
        };
        // SQLITE_BUSY means the function exists already (registered when this connection
        // was opened) and a statement is running: nothing to do.
        if rc != ffi::SQLITE_OK && rc != ffi::SQLITE_BUSY {
            return rc;
        }
    }
    ffi::SQLITE_OK
}

/// Ask SQLite to call [`register`] on every connection opened from now on.
pub fn register_for_new_connections() -> c_int {
    type AutoExtension = unsafe extern "C" fn(*mut ffi::sqlite3, *mut *mut c_char, *const ffi::sqlite3_api_routines) -> c_int;
    let entry: AutoExtension = on_new_connection;
    // SAFETY: SQLite calls auto-extensions with exactly the three arguments of an extension
    // entry point; `void(*)(void)` is only how sqlite3.h spells the pointer type. SQLite
    // ignores a second registration of the same function.
    unsafe { ffi::sqlite3_auto_extension(Some(std::mem::transmute::<AutoExtension, unsafe extern "C" fn()>(entry))) }
}

unsafe extern "C" fn on_new_connection(db: *mut ffi::sqlite3, _err: *mut *mut c_char, _api: *const ffi::sqlite3_api_routines) -> c_int {
    // SAFETY: SQLite passes the connection being opened; the API was initialised at load.
    unsafe { register(db) }
}

type Func = unsafe extern "C" fn(*mut ffi::sqlite3_context, c_int, *mut *mut ffi::sqlite3_value);

/// # Safety
/// `ctx` is the context of a running function call.
unsafe fn result_text(ctx: *mut ffi::sqlite3_context, text: &str) {
    // SAFETY: SQLITE_TRANSIENT makes SQLite copy the bytes before `text` goes away.
    unsafe { ffi::sqlite3_result_text(ctx, text.as_ptr().cast(), text.len() as c_int, ffi::SQLITE_TRANSIENT()) }
}

unsafe extern "C" fn version(ctx: *mut ffi::sqlite3_context, _argc: c_int, _argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: called by SQLite with a live context.
    unsafe { result_text(ctx, VERSION) }
}

unsafe extern "C" fn status(ctx: *mut ffi::sqlite3_context, _argc: c_int, _argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: called by SQLite with a live context.
    unsafe { result_text(ctx, &status_json()) }
}

/// The status object: version, lower VFS, process default policy and the counters.
pub fn status_json() -> String {
    Status {
        version: VERSION,
        base_vfs: &vfs::lower_name(),
        vfs_names: vfs::names(),
        policy: config::default_policy().name(),
        refused_pragmas: stats::get(Event::RefusedPragma),
        refused_header_writes: stats::get(Event::RefusedHeaderWrite),
        refused_wal_frames: stats::get(Event::RefusedWalFrame),
        refused_checkpoints: stats::get(Event::RefusedCheckpoint),
        kept: stats::get(Event::Kept),
        warned: stats::get(Event::Warned),
        deliberate: stats::get(Event::Deliberate),
        sqlite_version: &host::libversion(),
        wal_reset_bug_range: walguard_core::wal_reset::affected_version(host::libversion_number()),
        wal_reset_mitigation: config::wal_reset_fix(),
        wal_reset_checkpoints_held: stats::get(Event::WalResetHeld),
        sqlite_floor: &sqlite_floor(),
        build: env!("WALGUARD_BUILD"),
    }
    .to_json()
}

/// The SQLite version of the headers the bindings were generated from: the oldest host
/// walguard loads into (`rusqlite_extension_init2` refuses older ones).
fn sqlite_floor() -> String {
    ffi::SQLITE_VERSION.to_string_lossy().into_owned()
}
