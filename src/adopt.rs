//! Guard the files the loading connection already has open.
//!
//! `sqlite3 app.db` followed by `.load ./libwalguard`, or Python's
//! `sqlite3.connect("app.db").load_extension(...)`, opened `app.db` through the old default
//! VFS before walguard existed. Each such file (main and every attached schema that is a
//! real file) is adopted in place (see `file::adopt`), so both layers apply to it from the
//! load on. A file that cannot be adopted is reported through `sqlite3_log`, and
//! `PRAGMA walguard` gives no row for it.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;

use libsqlite3_sys as ffi;

use walguard_core::settings;

use crate::file::{self, Adoption, NotAdopted};
use crate::loader::Loader;
use crate::wrap::lower::{ForeignFile, LowerFile};
use crate::wrap::vfs::Registered;
use crate::{config, host};

/// Adopt every real database file `db` has open.
///
/// # Safety
/// `db` is the loading connection; SQLite holds its mutex during the load. `api` is the table
/// the host passed to the entry point.
pub unsafe fn guard_open_files(db: *mut ffi::sqlite3, api: *const ffi::sqlite3_api_routines) {
    // SAFETY: the caller vouches for `api`.
    match unsafe { host::db_name_function(api) } {
        Some(db_name) => {
            for index in 0.. {
                // SAFETY: sqlite3_db_name returns null past the last schema.
                let name = unsafe { db_name(db, index) };
                if name.is_null() {
                    break;
                }
                // SAFETY: `name` is a schema of `db`.
                unsafe { guard_schema(db, name) };
            }
        }
        // SAFETY: the caller's connection.
        None => unsafe { guard_listed_schemas(db) },
    }
}

/// Adopt the main database file of a connection being opened (the preload's auto-extension):
/// the only file such a connection has, named without asking SQLite, so nothing is read.
///
/// # Safety
/// As [`guard_open_files`].
pub unsafe fn guard_main(db: *mut ffi::sqlite3) {
    // SAFETY: `main` is a schema of every connection.
    unsafe { guard_schema(db, c"main".as_ptr()) };
}

/// Before SQLite 3.39.0 (no `sqlite3_db_name`): the schemas `PRAGMA database_list` names.
/// That pragma reads the schema first, as the connection's next statement would have; if it
/// cannot (a locked or damaged file, an authorizer that denies it), `main` is still adopted
/// and the files ATTACHed before the load stay unguarded, which the log line says.
///
/// # Safety
/// As [`guard_open_files`].
unsafe fn guard_listed_schemas(db: *mut ffi::sqlite3) {
    let mut names: Vec<CString> = Vec::new();
    let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
    // SAFETY: a plain prepare/step/finalize on the caller's connection; column 1 (the name)
    // is copied before the next step.
    let rc = unsafe {
        let mut rc = ffi::sqlite3_prepare_v2(db, c"PRAGMA database_list".as_ptr(), -1, &raw mut stmt, ptr::null_mut());
        while rc == ffi::SQLITE_OK || rc == ffi::SQLITE_ROW {
            rc = ffi::sqlite3_step(stmt);
            if rc == ffi::SQLITE_ROW
                && let Some(name) = host::bytes(ffi::sqlite3_column_text(stmt, 1).cast())
            {
                names.extend(CString::new(name).ok());
            }
        }
        ffi::sqlite3_finalize(stmt);
        rc
    };
    if rc != ffi::SQLITE_DONE {
        host::log(
            ffi::SQLITE_WARNING,
            &format!(
                "walguard: cannot list the loading connection's schemas (PRAGMA database_list: error {rc}; SQLite {} has no \
                 sqlite3_db_name): main is guarded, databases it ATTACHed before the load are NOT guarded",
                host::libversion()
            ),
        );
        names = vec![c"main".to_owned()];
    }
    for name in &names {
        // SAFETY: `name` names a schema of `db` (or is `main`, which always exists).
        unsafe { guard_schema(db, name.as_ptr()) };
    }
}

/// # Safety
/// As [`guard_open_files`]; `schema` names a schema of `db`.
unsafe fn guard_schema(db: *mut ffi::sqlite3, schema: *const c_char) {
    // SAFETY: documented lookups on a live connection and one of its schemas; the filename lives
    // as long as the schema stays attached, i.e. as long as its file is open.
    let (path, schema_name) = unsafe { (ffi::sqlite3_db_filename(db, schema), CStr::from_ptr(schema).to_string_lossy()) };
    // SAFETY: `path` is null or a NUL-terminated filename (see above).
    let Some(path_bytes) = (unsafe { host::bytes(path) }).filter(|bytes| !bytes.is_empty()) else {
        return; // temp or in-memory: nothing another process could share
    };
    let path_text = String::from_utf8_lossy(path_bytes).into_owned();
    // SAFETY: the three file-controls write one pointer; `db` and `schema` as above.
    let (file, vfs, journal): (*mut ffi::sqlite3_file, *mut ffi::sqlite3_vfs, *mut ffi::sqlite3_file) = unsafe {
        (
            file_control_pointer(db, schema, ffi::SQLITE_FCNTL_FILE_POINTER).cast(),
            file_control_pointer(db, schema, ffi::SQLITE_FCNTL_VFS_POINTER).cast(),
            file_control_pointer(db, schema, ffi::SQLITE_FCNTL_JOURNAL_POINTER).cast(),
        )
    };
    // SAFETY: a registered VFS has a static, NUL-terminated name.
    if vfs.is_null() || unsafe { CStr::from_ptr((*vfs).zName) } == c"memdb" {
        return; // a deserialized, in-memory image
    }
    // SAFETY: SQLite's own file object of an attached schema, valid while it stays attached.
    if file.is_null() || unsafe { (*file).pMethods }.is_null() {
        warn(&format!("cannot guard schema {schema_name}: its file is not open"), &path_text);
        return;
    }
    // SAFETY: `file` is open (above) and not in use: the load holds the connection's mutex.
    if unsafe { LowerFile::of_open(file) }.vfs_name().is_some_and(|name| name.starts_with("walguard/")) {
        return; // guarded by a copy of walguard (this one or another): every copy answers so
    }
    // SAFETY: `path` is a database filename SQLite made, with its URI parameters after it,
    // which sqlite3_uri_parameter and sqlite3_uri_boolean read; `db` and `schema` as above.
    let (policy_value, cannot_write) = unsafe {
        (
            host::bytes(ffi::sqlite3_uri_parameter(path, c"walguard".as_ptr())),
            ffi::sqlite3_db_readonly(db, schema) == 1
                || ffi::sqlite3_uri_boolean(path, c"immutable".as_ptr(), 0) != 0
                || ffi::sqlite3_uri_boolean(path, c"nolock".as_ptr(), 0) != 0,
        )
    };
    let policy = config::accept(settings::file_policy(policy_value, config::default_policy(), &path_text));
    // SAFETY: a registered VFS, SQLite's answer to SQLITE_FCNTL_VFS_POINTER.
    let vfs = unsafe { Registered::from_raw(vfs) };
    // The pager's journal handle is known for sure only while it is closed: with a WAL open,
    // SQLITE_FCNTL_JOURNAL_POINTER answers the WAL file instead.
    // SAFETY: null, or the pager's journal handle, allocated with the pager (so it outlives the
    // database file), whose opens and closes the pager serialises with its writes.
    let journal = (!journal.is_null() && unsafe { (*journal).pMethods }.is_null())
        .then(|| unsafe { ForeignFile::new(journal, vfs.journal_reads_with()) });
    // SAFETY: `db` is the loading connection, whose mutex the load holds.
    let loader = unsafe { Loader::of(db) };
    let adoption = Adoption { vfs, path: path_bytes, policy, read_only: cannot_write, loader, journal };
    // SAFETY: `file` is open by `vfs` and not in use (the load holds the connection's mutex);
    // a file no copy of walguard guards has its table set by nothing else but its close.
    match unsafe { file::adopt(file, adoption) } {
        Ok(()) => host::log(
            ffi::SQLITE_NOTICE,
            &format!("walguard: guarding schema {schema_name}, opened before the load, policy {}: '{path_text}'", policy.name()),
        ),
        Err(NotAdopted::AlreadyGuarded) => {}
        Err(NotAdopted::UnknownVersion(v)) => {
            warn(&format!("cannot guard schema {schema_name}: io-methods version {v} is unknown"), &path_text)
        }
    }
}

fn warn(what: &str, path: &str) {
    host::log(ffi::SQLITE_WARNING, &format!("walguard: {what}, so it is NOT guarded: '{path}'"));
}

/// A pointer-valued file-control of a schema; null when SQLite has none.
///
/// # Safety
/// `db` is live, `schema` one of its schemas, `op` a file-control that writes a pointer.
unsafe fn file_control_pointer(db: *mut ffi::sqlite3, schema: *const c_char, op: c_int) -> *mut c_void {
    let mut out: *mut c_void = ptr::null_mut();
    // SAFETY: the caller vouches for the arguments; `out` receives one pointer.
    let rc = unsafe { ffi::sqlite3_file_control(db, schema, op, (&raw mut out).cast()) };
    if rc == ffi::SQLITE_OK { out } else { ptr::null_mut() }
}
