//! # walguard: a VFS shim that refuses to walk a WAL database back to a rollback journal
//!
//! Many processes opening one SQLite file must agree on its journal mode. When one of them
//! "falls back" to `journal_mode=DELETE` while its siblings use WAL, the file flips between
//! modes and gets corrupted. walguard makes that downgrade impossible for every connection
//! opened after it is loaded, whatever the language of the client.
//!
//! ## Loading
//! `sqlite3_walguard_init` wraps the default VFS of the moment and registers the wrapper under
//! its name (`unix`) as the new default, under the names of its variants, and as `walguard`
//! ([`vfs`]): SQLite finds VFSes by name, so every open, ATTACH and `vfs=` reaches walguard. The extension stays loaded for the life of the
//! process (`SQLITE_OK_LOAD_PERMANENTLY`); loading it again registers nothing new, and guards the
//! loading connection's files that are not guarded yet. A second copy of the library (another
//! path) finds the VFS registered and defers to the copy in charge. In the sqlite3 shell,
//! load first, then open: `.load ./libwalguard` then `.open app.db`.
//!
//! ## What is refused
//! On a main database file whose on-disk header says WAL (read version 2):
//! 1. `PRAGMA journal_mode=<rollback mode>` (DELETE, TRUNCATE, PERSIST, MEMORY, OFF, spelt
//!    any way SQLite accepts) fails at prepare time with a `walguard:` message
//!    (`SQLITE_FCNTL_PRAGMA`);
//! 2. a write that leaves the header's read version at anything but 2 fails with
//!    `SQLITE_IOERR_WRITE` and a `walguard:` line through `sqlite3_log`, whether it goes to the
//!    database file or, as a page-1 frame, to its WAL. This catches the paths that never send
//!    the pragma to that file: an unprefixed pragma applied to ATTACHed databases,
//!    `SQLITE_DBCONFIG_RESET_DATABASE` + `VACUUM`, a page 1 written into the WAL by a raw page
//!    writer, a statement prepared before another connection switched the file to WAL. The
//!    header is read from the database file for every such write; nothing remembered grants
//!    one (`walguard_core::write_guard`).
//!
//! The write layer never refuses a restore: a write of the page-1 record of the rollback
//! journal this connection's pager is playing back (the rollback of a failed switch to WAL, the
//! playback of a hot journal left by a crash in the middle of one), or, for a journal kept in
//! memory, of exactly the page 1 this handle replaced with a WAL header in the transaction
//! under way.
//!
//! ## The deliberate path
//! Open the file with the URI parameter `walguard=off` (`file:app.db?walguard=off`) to turn
//! the guard off for that one file; every such open is logged.
//!
//! ## Layout
//! ARCHITECTURE.md, "The code", maps the modules (`core/` decides, `src/` is the shell).

mod adopt;
mod companions;
mod config;
mod file;
mod functions;
mod guard;
mod host;
mod loader;
mod log_sink;
mod stats;
#[cfg(test)]
mod testing;
mod vfs;
mod wal_file;
mod wrap;

use std::ffi::{c_char, c_int};
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

/// The host's API table the extension was first initialised with (successfully).
/// libsqlite3-sys keeps one set of function pointers per process, so a second, different
/// SQLite library in the same process (say the system one and a bundled one) must not
/// overwrite them.
static HOST_API: OnceLock<usize> = OnceLock::new();

/// Entry point, found by `load_extension` from the library's name.
///
/// # Safety
/// Called by SQLite with a valid connection, error-message slot and API table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_walguard_init(
    db: *mut ffi::sqlite3,
    err_msg: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite's own arguments.
    match unsafe { init(db, api, Loaded::Explicitly) } {
        Ok(()) => ffi::SQLITE_OK_LOAD_PERMANENTLY,
        Err((rc, message)) => {
            // SAFETY: the message is allocated by the host that will free it: its own
            // sqlite3_malloc, from the table it passed (whatever walguard's stored pointers
            // are, or are not yet).
            unsafe { host::set_error(api, err_msg, &message) };
            rc
        }
    }
}

/// How the entry point was reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loaded {
    /// `sqlite3_load_extension` on a connection that may have files open and ATTACHed.
    Explicitly,
    /// An auto-extension, inside `sqlite3_open` of a connection whose only file is its main
    /// database, not yet read: adopting it must neither read it nor fail the open.
    AtOpen,
}

/// # Safety
/// As [`sqlite3_walguard_init`].
unsafe fn init(db: *mut ffi::sqlite3, api: *mut ffi::sqlite3_api_routines, loaded: Loaded) -> Result<(), (c_int, String)> {
    let fail = |message: String| (ffi::SQLITE_ERROR, message);
    if HOST_API.get().is_some_and(|&first| first != api as usize) {
        return Err(fail("walguard: already loaded by another SQLite library in this process; load it into one SQLite only".to_owned()));
    }
    // SAFETY: `api` is the table SQLite handed us; the function checks the host's version
    // against the headers the bindings were generated from before storing the pointers.
    unsafe { ffi::rusqlite_extension_init2(api) }.map_err(|e| fail(format!("walguard: cannot load: {e}")))?;
    HOST_API.get_or_init(|| api as usize);
    config::load();
    let registration = vfs::register().map_err(fail)?;
    // SAFETY: `db` is the loading connection, valid for this call, its mutex held by SQLite;
    // `api` its host's table. Files guarded by any copy of walguard are left alone (`file::adopt`).
    unsafe {
        match loaded {
            Loaded::Explicitly => adopt::guard_open_files(db, api),
            Loaded::AtOpen => adopt::guard_main(db),
        }
    };
    if registration == vfs::Registration::Deferred {
        defer_to_the_copy_in_charge();
        return Ok(());
    }
    // SAFETY: as above.
    let rc = match unsafe { functions::register(db) } {
        ffi::SQLITE_OK => functions::register_for_new_connections(),
        rc => rc,
    };
    if rc != ffi::SQLITE_OK {
        return Err((rc, format!("walguard: cannot register its SQL functions (error {rc})")));
    }
    Ok(())
}

/// Another copy of the library registered the `walguard` VFS: it guards every file opened
/// through the default VFS, and its SQL functions and counters are the process's. This copy
/// only guards the loading connection's files that no copy guards yet (opened before any copy
/// was loaded), registers nothing, and says so once.
fn defer_to_the_copy_in_charge() {
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        host::log(
            ffi::SQLITE_NOTICE,
            &format!(
                "walguard: another copy of walguard is in charge of this process; this copy (version {}) only guards the files \
                 its loading connection had open before any copy was loaded",
                functions::VERSION
            ),
        );
    });
}

/// The same entry point for `sqlite3_auto_extension`, which the preload library
/// (`preload/`) registers: SQLite treats any code but `SQLITE_OK` from an auto-extension as
/// a failure of the open, `SQLITE_OK_LOAD_PERMANENTLY` included. (The library stays loaded
/// anyway: the preload never closes it.)
///
/// # Safety
/// As [`sqlite3_walguard_init`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_walguard_auto_init(
    db: *mut ffi::sqlite3,
    err_msg: *mut *mut c_char,
    api: *mut ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite's own arguments.
    match unsafe { init(db, api, Loaded::AtOpen) } {
        Ok(()) => ffi::SQLITE_OK,
        Err((rc, message)) => {
            // SAFETY: as in `sqlite3_walguard_init`.
            unsafe { host::set_error(api, err_msg, &message) };
            rc
        }
    }
}
