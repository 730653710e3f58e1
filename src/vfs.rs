//! The `walguard` VFS: its names, its registration, and what it does with the files it opens.
//!
//! The VFS itself is the generic wrapper's (`wrap::vfs`: the lower VFS in `pAppData`, every
//! method forwarded, as SQLite's `ext/misc/cksumvfs.c`). walguard's [`OpenHook`] guards main
//! database files (`file::open`) and the WAL files of guarded databases (`wal_file::open`), and
//! ties a rollback journal to its database's guard (`file::journal_opened`); every other file
//! (other journals, temp files) belongs to the lower VFS alone.

use std::ffi::c_int;
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

use crate::guard::Guard;
use crate::wal_file::Wal;
use crate::wrap::io::room_for;
use crate::wrap::vfs::{OpenHook, Opened, Registered};
use crate::{file, wal_file};

/// The name the VFS is registered under besides the names of the VFSes it wraps.
pub use walguard_core::settings::VFS_NAME as NAME;

/// walguard's hook on the files the lower VFS opens.
pub enum Walguard {}

/// The room walguard's largest wrapper takes after a lower file.
pub const ROOM: (usize, usize) = {
    let (db, wal) = (room_for::<Guard>(), room_for::<Wal>());
    (if db.0 > wal.0 { db.0 } else { wal.0 }, if db.1 > wal.1 { db.1 } else { wal.1 })
};

impl OpenHook for Walguard {
    const ROOM: (usize, usize) = ROOM;

    fn opened(file: Opened<'_, Walguard>) -> c_int {
        let flags = file.flags();
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            file::open(file)
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
            wal_file::open(file)
        } else if flags & ffi::SQLITE_OPEN_MAIN_JOURNAL != 0 {
            file::journal_opened(file)
        } else {
            ffi::SQLITE_OK
        }
    }
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
/// first outcome and change nothing. The extension API must be initialised.
pub fn register() -> Result<Registration, String> {
    static OUTCOME: OnceLock<Result<Registration, String>> = OnceLock::new();
    OUTCOME.get_or_init(register_once).clone()
}

/// SQLite finds a VFS by name (`sqlite3_vfs_find`) for every `ATTACH` (under the name of the
/// attaching connection's VFS), every `vfs=` URI parameter and every `sqlite3_open_v2` that
/// names one, and it returns the first VFS of its list with that name. So walguard registers
/// one wrapper under the default VFS's own name, as the new default (the head of the list),
/// and one under each name of that VFS's variants (`unix-excl`, `unix-dotfile`, `unix-none`:
/// the registered VFSes named `<default>-...`), ahead of the VFSes they wrap; plus `walguard`,
/// the name a second copy of the library looks for. The VFSes it wraps stay registered, under
/// the wrappers, where only walguard reaches them.
fn register_once() -> Result<Registration, String> {
    if Registered::find(Some(NAME)).is_some() {
        return Ok(Registration::Deferred);
    }
    let Some(default) = Registered::find(None) else { return Err("walguard: SQLite has no default VFS to wrap".to_owned()) };
    LOWER_NAME.get_or_init(|| default.name().to_string_lossy().into_owned());
    // Variants first: registered as non-defaults, each goes right after the head of the list,
    // ahead of the VFS it wraps; then the default, at the head; then `walguard`.
    let wrappers = variants_of(default).into_iter().map(|v| (v, None, false)).chain([(default, None, true), (default, Some(NAME), false)]);
    let mut names = Vec::new();
    for (lower, alias, make_default) in wrappers {
        let name = lower.wrap_and_register::<Walguard>(alias, make_default).map_err(|e| format!("walguard: {e}"))?;
        names.push(name.to_string_lossy().into_owned());
    }
    NAMES.get_or_init(|| names);
    Ok(Registration::InCharge)
}

/// The registered VFSes named `<name of default>-...`: `unix-excl`, `unix-dotfile` and
/// `unix-none` where the default is `unix`, which reach the same files with other locking.
/// Only those whose files take as many bytes as the default's: walguard's struct sits at one
/// offset from every file pointer (`wrap::tail`), which SQLite's own variants share.
fn variants_of(default: Registered) -> Vec<Registered> {
    let prefix = [default.name().to_bytes(), b"-"].concat();
    Registered::all()
        .into_iter()
        .filter(|v| *v != default && v.name().to_bytes().starts_with(&prefix) && v.os_file_size() == default.os_file_size())
        .collect()
}
