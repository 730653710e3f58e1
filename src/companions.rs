//! Which guarded database a journal or WAL belongs to, from where SQLite keeps its name.
//!
//! A database opened through walguard is registered, while it is open, under the address
//! SQLite keeps its journal's name at and the WAL's right after it
//! (`Opened::journal_name_address`). A companion SQLite opens is matched by that exact address,
//! and then by its name, `<database>-journal` or `<database>-wal`, never by a nearby address or
//! a name alone: a VFS above walguard that passes its own copies of the names (SQLite's
//! multiplexor does) matches nothing, and its journal and WAL are the lower VFS's. Both
//! comparisons run under the registry's lock, so a registration being dropped (its database
//! closing) is never read.

use std::sync::{Mutex, MutexGuard};

/// A file SQLite names after its database's name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Companion {
    Journal,
    Wal,
}

impl Companion {
    fn suffix(self) -> &'static [u8] {
        match self {
            Companion::Journal => b"-journal",
            Companion::Wal => b"-wal",
        }
    }
}

struct Entry {
    journal_at: usize,
    wal_at: usize,
    /// The database's name, as SQLite passed it to `xOpen`.
    path: Box<[u8]>,
    /// What the registration stands for (the address of a guard), handed back by [`find`].
    owner: usize,
}

static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn entries() -> MutexGuard<'static, Vec<Entry>> {
    ENTRIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A database's registration, undone when it is dropped (with the database's guard, at its
/// close).
pub struct Registration {
    owner: usize,
}

/// Register the database named `path`, whose journal's name SQLite keeps at `journal_at`, for
/// `owner`.
pub fn register(journal_at: usize, path: &[u8], owner: usize) -> Registration {
    // `<path>-journal\0`, then the WAL's name.
    let wal_at = journal_at.wrapping_add(path.len() + b"-journal\0".len());
    entries().push(Entry { journal_at, wal_at, path: path.into(), owner });
    Registration { owner }
}

impl Drop for Registration {
    fn drop(&mut self) {
        entries().retain(|entry| entry.owner != self.owner);
    }
}

/// The owner of the database whose `companion` SQLite is opening at `address`; `name` gives
/// the companion's name, asked only when the address matches (the common case costs no
/// `strlen` when it does not).
pub fn find<'n>(address: usize, name: impl FnOnce() -> &'n [u8], companion: Companion) -> Option<usize> {
    let entries = entries();
    let entry = entries.iter().find(|entry| match companion {
        Companion::Journal => entry.journal_at == address,
        Companion::Wal => entry.wal_at == address,
    })?;
    let name = name();
    let stem = name.strip_suffix(companion.suffix())?;
    (*stem == *entry.path).then_some(entry.owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_companion_is_found_by_its_address_and_its_name_only() {
        let (at, path) = (0x1000, b"/x/a.db".as_slice());
        let registration = register(at, path, 7);
        let wal_at = at + path.len() + 9;
        assert_eq!(find(at, || b"/x/a.db-journal".as_slice(), Companion::Journal), Some(7));
        assert_eq!(find(wal_at, || b"/x/a.db-wal".as_slice(), Companion::Wal), Some(7));
        assert_eq!(find(at + 1, || b"/x/a.db-journal".as_slice(), Companion::Journal), None, "another address");
        assert_eq!(find(at, || b"/x/b.db-journal".as_slice(), Companion::Journal), None, "another name");
        assert_eq!(find(at, || b"/x/a.db-wal".as_slice(), Companion::Journal), None, "a WAL's name is not a journal's");
        assert_eq!(find(wal_at, || b"/x/a.db-journal".as_slice(), Companion::Wal), None);
        drop(registration);
        assert_eq!(find(at, || b"/x/a.db-journal".as_slice(), Companion::Journal), None, "closed");
    }
}
