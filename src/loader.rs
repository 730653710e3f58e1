//! The loading connection of the files it had open before walguard: adopted files know it
//! only as long as it is open.
//!
//! A file opened through walguard learns the connection in use from `SQLITE_FCNTL_PDB` (a
//! slot SQLite keeps pointed at it). An adopted file missed that file-control, so layer 1
//! reads the connection that loaded walguard instead. In shared-cache mode that file can
//! outlive that connection (another connection shares it), so the guard never holds the bare
//! pointer: it holds a [`Loader`], which a collation registered on the connection clears when
//! SQLite destroys the connection's collations, at its close.

use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex, Weak};

use libsqlite3_sys as ffi;

/// A connection that adopted files, while it is open.
pub struct Loader {
    /// The connection, as an address; 0 once it has closed.
    db: Mutex<usize>,
    /// Its `SQLITE_DBCONFIG_DEFENSIVE` at the adoption (reading it later would take the
    /// connection's mutex from whatever thread prepares a pragma on a shared file).
    defensive: bool,
}

/// The collation whose destructor tells a [`Loader`] its connection is closing.
const SENTINEL: &std::ffi::CStr = c"walguard_loader";

/// The live loaders, one per connection, so that loading walguard twice into one connection
/// registers the collation once (registering it again would destroy the first one's).
static LOADERS: Mutex<Vec<(usize, Weak<Loader>)>> = Mutex::new(Vec::new());

impl Loader {
    /// The loader of connection `db`, registering its sentinel the first time. `None` when the
    /// collation cannot be registered: the adopted file then has no connection for layer 1.
    ///
    /// # Safety
    /// `db` is a live connection whose mutex the caller holds.
    pub unsafe fn of(db: *mut ffi::sqlite3) -> Option<Arc<Loader>> {
        let mut loaders = LOADERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(loader) = loaders.iter().find(|(d, _)| *d == db as usize).and_then(|(_, l)| l.upgrade()) {
            return Some(loader);
        }
        let mut defensive = 0;
        // SAFETY: a read of the live connection's setting; its mutex is recursive.
        let rc = unsafe { ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_DEFENSIVE, -1, &mut defensive) };
        let loader = Arc::new(Loader { db: Mutex::new(db as usize), defensive: rc == ffi::SQLITE_OK && defensive != 0 });
        let user_data = Box::into_raw(Box::new(Arc::clone(&loader)));
        // SAFETY: a new collation on the live connection; SQLite owns `user_data` from here and
        // hands it to `closed` exactly once (also when the registration fails).
        let rc = unsafe {
            ffi::sqlite3_create_collation_v2(db, SENTINEL.as_ptr(), ffi::SQLITE_UTF8, user_data.cast(), Some(binary), Some(closed))
        };
        if rc != ffi::SQLITE_OK {
            return None;
        }
        loaders.retain(|(_, l)| l.strong_count() > 0);
        loaders.push((db as usize, Arc::downgrade(&loader)));
        Some(loader)
    }

    /// Run `read` on the connection if it is still open (its close waits until `read` returns).
    pub fn with<T>(&self, read: impl FnOnce(*mut ffi::sqlite3, bool) -> T) -> Option<T> {
        let db = self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (*db != 0).then(|| read(*db as *mut ffi::sqlite3, self.defensive))
    }
}

/// The sentinel compares as BINARY does; nothing uses it but its destructor.
unsafe extern "C" fn binary(_: *mut c_void, n1: c_int, s1: *const c_void, n2: c_int, s2: *const c_void) -> c_int {
    let (n1, n2) = (usize::try_from(n1).unwrap_or(0), usize::try_from(n2).unwrap_or(0));
    // SAFETY: SQLite passes two strings of n1 and n2 bytes.
    let (a, b) = unsafe { (std::slice::from_raw_parts(s1.cast::<u8>(), n1), std::slice::from_raw_parts(s2.cast::<u8>(), n2)) };
    a.cmp(b) as c_int
}

/// The connection is closing (or the registration failed): its loader forgets it.
unsafe extern "C" fn closed(user_data: *mut c_void) {
    // SAFETY: the Box made in `Loader::of`, given back by SQLite once.
    let loader = unsafe { Box::from_raw(user_data.cast::<Arc<Loader>>()) };
    *loader.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = 0;
}
