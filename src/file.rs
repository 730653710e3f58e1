//! Guarded database files: how a file gets guarded, and the hooks that guard it.
//!
//! A main database gets guarded in one of two ways, both through the generic wrapper
//! (`wrap::io`):
//! - [`open`]: opened through the walguard VFS, the guard is placed after the lower file, in
//!   SQLite's allocation;
//! - [`adopt`]: a file the loading connection opened before walguard existed gets a boxed
//!   guard as its table, until its close puts the lower table back.
//!
//! The [`Guard`]'s hooks replace `xWrite` (layer 2), `xFileControl` (layer 1, `PRAGMA
//! walguard`, `.vfsname`, the state machine's checkpoint and commit events, the connection),
//! `xUnlock` (the end of a transaction) and, with the WAL-reset mitigation on, the wal-index's
//! locks; every other method is the lower function itself, called on the same `sqlite3_file`.
//!
//! A database opened through walguard is registered by the address SQLite keeps its journal's
//! name at (`companions`), so that its rollback journal ([`journal_opened`]) and its WAL
//! (`wal_file::open`) find its guard when SQLite opens them.

use std::ffi::c_int;

use libsqlite3_sys as ffi;
use walguard_core::{FileGuard, Policy, settings};

use crate::companions::{self, Companion};
use crate::config;
use crate::guard::Guard;
use crate::host;
use crate::vfs::Walguard;
use crate::wrap::io::{self, Answer, Control, FileHooks, Hooked, NotWrapped};
use crate::wrap::lower::{ForeignFile, LowerFile, WalIndex};
use crate::wrap::vfs::{Opened, Registered};

/// The guard of the database whose `companion` SQLite is opening as `file` (`companions`).
pub fn guard_of(file: &Opened<'_, Walguard>, companion: Companion) -> Option<*mut Guard> {
    companions::find(file.name_address(), || file.name(), companion).map(|guard| guard as *mut Guard)
}

/// A rollback journal the lower VFS opened: when its database is guarded here, tell the guard
/// which handle its pager journals through (`Disk::journal_restores_page1`).
pub fn journal_opened(file: Opened<'_, Walguard>) -> c_int {
    if let Some(guard) = guard_of(&file, Companion::Journal) {
        // SAFETY: the handle is the pager's journal handle (its name is the one SQLite keeps in
        // the pager's allocation, `guard_of`), allocated with the pager, so it outlives the
        // database file and its guard; SQLite serialises the pager's opens, closes and writes.
        let journal = unsafe { ForeignFile::new(file.handle(), file.lower().methods().xRead) };
        // SAFETY: a registered guard lives until its file closes, which SQLite does after
        // closing the journal; SQLite serialises the pager's calls.
        unsafe { (*guard).journal_opened(journal) };
    }
    ffi::SQLITE_OK
}

/// A main database file the lower VFS opened for SQLite: guard it.
#[inline(never)]
pub fn open(file: Opened<'_, Walguard>) -> c_int {
    let path = file.name();
    let path_text = String::from_utf8_lossy(path);
    let policy = config::accept(settings::file_policy(file.uri_parameter(c"walguard"), config::default_policy(), &path_text));
    let cannot_write = file.read_only() || file.uri_boolean(c"immutable") || file.uri_boolean(c"nolock");
    let mut guard = Guard::new(file.lower(), file.lower_vfs_name(), path, policy);
    if cannot_write {
        guard.opened_read_only();
    }
    let journal_at = file.journal_name_address();
    match file.wrap(guard) {
        Ok(mut placed) => {
            let owner = placed.address();
            placed.hooks().companions = Some(companions::register(journal_at, path, owner));
            if policy == Policy::Off {
                host::log(ffi::SQLITE_NOTICE, &format!("walguard: guard off (URI parameter walguard=off): '{path_text}'"));
            }
        }
        Err(version) => host::log(
            ffi::SQLITE_WARNING,
            &format!("walguard: io-methods version {version} is unknown, so the file is NOT guarded: '{path_text}'"),
        ),
    }
    ffi::SQLITE_OK
}

/// Why an open file could not be adopted.
pub enum NotAdopted {
    /// Already guarded (opened through walguard, or adopted before), by this copy or another.
    AlreadyGuarded,
    /// Its io methods have a version walguard does not know.
    UnknownVersion(c_int),
}

/// What walguard knows of a file it adopts.
pub struct Adoption<'a> {
    pub vfs: Registered,
    /// Its filename as SQLite keeps it, with its URI parameters after it.
    pub path: &'a [u8],
    pub policy: Policy,
    pub read_only: bool,
    /// The connection that loaded walguard, for layer 1.
    pub loader: Option<std::sync::Arc<crate::loader::Loader>>,
    /// Its pager's journal handle, when walguard can tie it (`adopt::guard_schema`).
    pub journal: Option<ForeignFile>,
}

/// Guard a file that is already open, from now on.
///
/// # Safety
/// `file` is an open main database file, no call on it is in progress or starts before this
/// returns (the caller holds its connection's mutex), and nothing but its close sets its table
/// afterwards (a second copy of walguard never adopts a file any copy guards).
pub unsafe fn adopt(file: *mut ffi::sqlite3_file, adoption: Adoption<'_>) -> Result<(), NotAdopted> {
    let Adoption { vfs, path, policy, read_only, loader, journal } = adoption;
    let hooks = |lower| {
        let mut guard = Guard::new(lower, vfs.name(), path, policy);
        if let Some(loader) = loader {
            guard.used_by(crate::guard::Connection::Loader(loader));
        }
        if read_only {
            guard.opened_read_only();
        }
        if let Some(journal) = journal {
            guard.journal_opened(journal);
        }
        guard
    };
    // SAFETY: as the caller vouches.
    match unsafe { io::adopt::<Guard>(file, hooks) } {
        Ok(()) => Ok(()),
        Err(NotWrapped::AlreadyWrapped) => Err(NotAdopted::AlreadyGuarded),
        Err(NotWrapped::UnknownVersion(version)) => Err(NotAdopted::UnknownVersion(version)),
    }
}

/// The guard's hooks on its database file.
impl FileHooks for Guard {
    fn hooked(&self, _lower: &ffi::sqlite3_io_methods) -> Hooked {
        Hooked { write: true, unlock: true, file_control: true, shm: self.watches_shm() }
    }

    #[inline(always)]
    fn write(&mut self, _lower: &LowerFile, data: &[u8], offset: i64) -> Result<(), c_int> {
        if !FileGuard::may_concern_header(offset) {
            return Ok(()); // the hot path: any page but page 1
        }
        self.check_database_write(offset, data)
    }

    #[inline(always)]
    fn unlock(&mut self, _level: c_int) {
        self.unlocked();
    }

    #[inline(always)]
    fn file_control(&mut self, lower: &LowerFile, control: Control<'_>) -> Answer {
        match control {
            Control::Other(op) => {
                self.file_control_event(op); // the hot path: most are no event
                Answer::Forward
            }
            Control::Pragma(pragma) => self.pragma(pragma),
            Control::VfsName(out) => out.answer(&self.vfs_name(lower)),
            Control::ConnectionSlot(slot) => {
                self.connection_slot(slot);
                Answer::Forward
            }
        }
    }

    #[inline(always)]
    fn shm_lock(&mut self, lower: &LowerFile, wal_index: &WalIndex, offset: c_int, n: c_int, flags: c_int) -> c_int {
        if !self.reset_tracks(offset, n, flags) {
            return lower.shm_lock(offset, n, flags); // the hot path: shared locks, readers' marks
        }
        self.shm_lock_tracked(lower, wal_index, offset, n, flags)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString, c_char, c_void};
    use std::ptr;

    use walguard_core::journal::{JOURNAL_MAGIC, page_checksum};
    use walguard_core::wal_reset::{CKPT_LOCK, READ_LOCK_0, SALT_OFFSET, SHM_EXCLUSIVE, SHM_LOCK, SHM_UNLOCK, WAL_INDEX_VERSION};

    use super::*;
    use crate::testing::{self, Allocation, Names, Open, PAGE, page1, take_log, take_sqlite_string};

    const FLAGS: c_int = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;

    /// A rollback journal as SQLite writes it, holding `page` as page 1.
    fn journal(page: &[u8]) -> Vec<u8> {
        let mut journal = vec![0; 512];
        journal[..8].copy_from_slice(&JOURNAL_MAGIC);
        journal[8..12].copy_from_slice(&1u32.to_be_bytes());
        journal[12..16].copy_from_slice(&7u32.to_be_bytes());
        journal[16..20].copy_from_slice(&2u32.to_be_bytes());
        journal[20..24].copy_from_slice(&512u32.to_be_bytes());
        journal[24..28].copy_from_slice(&(PAGE as u32).to_be_bytes());
        journal.extend_from_slice(&1u32.to_be_bytes());
        journal.extend_from_slice(page);
        journal.extend_from_slice(&page_checksum(7, page).to_be_bytes());
        journal
    }

    /// The guard a companion named by SQLite at `name` finds.
    fn find(name: *const c_char, companion: Companion) -> Option<*mut Guard> {
        // SAFETY: a NUL-terminated name, within a `Names` or a CString.
        companions::find(name as usize, || unsafe { CStr::from_ptr(name) }.to_bytes(), companion).map(|g| g as *mut Guard)
    }

    fn name(names: &Names) -> &CStr {
        // SAFETY: a NUL-terminated name inside `names`.
        unsafe { CStr::from_ptr(names.db()) }
    }

    fn journal_name(names: &Names) -> &CStr {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(names.journal()) }
    }

    /// Both layers on a database opened through walguard, from the open to the close: the
    /// table and the guard in the tail, found from the file pointer; the header, the journal
    /// (through a file walguard opens itself) and the answers it allocates for SQLite.
    #[test]
    fn a_database_opened_through_walguard() {
        let names = Names::new("/mem/opened.db", &[]);
        // SAFETY: `names` outlives the file.
        let db = unsafe { Open::new(names.db(), FLAGS) };
        assert_eq!(db.rc, ffi::SQLITE_OK);
        let (start, table) = (db.memory.ptr as usize, db.methods() as *const _ as usize);
        let tail = start + crate::wrap::tail_offset()..start + db.memory.layout.size();
        assert!(tail.contains(&table), "walguard's table is in its struct, after the lower file");

        // A new rollback database: its pages, and layer 1 lets a rollback mode through.
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_OK);
        assert_eq!(db.write(PAGE as i64, &[7; PAGE]), ffi::SQLITE_OK);
        assert_eq!(db.read(0, 100), (ffi::SQLITE_OK, page1(1)[..100].to_vec()));
        assert_eq!(db.pragma(c"journal_mode", Some(c"delete")), (ffi::SQLITE_NOTFOUND, None));

        // To WAL; in the same transaction this handle may put back the page it replaced (a
        // journal in memory); once the transaction has ended, both layers refuse.
        assert_eq!(db.write(0, &page1(2)), ffi::SQLITE_OK);
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_OK);
        assert_eq!(db.write(0, &page1(2)), ffi::SQLITE_OK);
        assert_eq!(db.unlock(ffi::SQLITE_LOCK_NONE), ffi::SQLITE_OK);
        let (rc, message) = db.pragma(c"journal_mode", Some(c"DELETE"));
        assert_eq!(rc, ffi::SQLITE_ERROR);
        assert!(message.unwrap().starts_with("walguard: refused journal_mode=DELETE on '/mem/opened.db'"));
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_IOERR_WRITE);
        // A journal on disk that holds this page 1 but that the pager has not opened (planted,
        // or the pager journals in memory or not at all): no restore.
        testing::set_file(journal_name(&names), &journal(&page1(1)));
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_IOERR_WRITE);
        // The pager opens it through walguard (a playback): a journal that holds another page 1,
        // then one that holds this one, read through the pager's own handle: a restore.
        testing::set_file(journal_name(&names), &journal(&page1(0)));
        // SAFETY: `names` outlives the journal, closed before the database.
        let jrnl = unsafe { Open::new(names.journal(), ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_READWRITE) };
        assert_eq!(jrnl.rc, ffi::SQLITE_OK);
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_IOERR_WRITE);
        assert_eq!(testing::file_contents(name(&names)).unwrap()[..PAGE], page1(2));
        assert_eq!(jrnl.write(0, &journal(&page1(1))), ffi::SQLITE_OK);
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_OK);
        assert_eq!(testing::file_contents(name(&names)).unwrap()[..PAGE], page1(1));
        assert_eq!(db.write(0, &page1(2)), ffi::SQLITE_OK);
        // Closed (as `sqlite3OsClose` does it: the table cleared, the handle's memory kept with the
        // pager's), the pager's journal grants nothing any more.
        assert_eq!(db.unlock(ffi::SQLITE_LOCK_NONE), ffi::SQLITE_OK);
        // SAFETY: the journal is open; its memory outlives the database's guard (dropped last).
        unsafe {
            assert_eq!(jrnl.methods().xClose.unwrap()(jrnl.file()), ffi::SQLITE_OK);
            (*jrnl.file()).pMethods = ptr::null();
        }
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_IOERR_WRITE);

        assert_eq!(db.pragma(c"walguard", None), (ffi::SQLITE_OK, Some("enforce".to_owned())));
        let mut vfs_name: *mut c_char = ptr::null_mut();
        // SAFETY: VFSNAME's out-parameter; the string is ours to free.
        unsafe {
            assert_eq!(db.file_control(ffi::SQLITE_FCNTL_VFSNAME, (&raw mut vfs_name).cast()), ffi::SQLITE_OK);
            assert_eq!(take_sqlite_string(vfs_name).as_deref(), Some("walguard/mem"));
        }
        let log = take_log();
        assert_eq!(log.len(), 5, "{log:?}");
        assert!(log[0].1.starts_with("walguard: refused journal_mode=DELETE, policy enforce"), "{log:?}");
        assert!(
            log[1..].iter().all(|(code, line)| *code == ffi::SQLITE_IOERR_WRITE && line.contains("a header write leaving WAL")),
            "{log:?}"
        );

        assert_eq!(db.close(), ffi::SQLITE_OK);
        assert!(find(names.wal(), Companion::Wal).is_none(), "the closed database is unregistered");
        drop(jrnl);
    }

    /// Every file-control reaches the lower file (walguard answers only its own), and a commit
    /// ends the transaction: the page a switch to WAL replaced cannot be put back after it.
    #[test]
    fn file_controls_go_through_and_a_commit_ends_the_transaction() {
        let names = Names::new("/mem/commit.db", &[]);
        // SAFETY: `names` outlives the file.
        let db = unsafe { Open::new(names.db(), FLAGS) };
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_OK);
        assert_eq!(db.unlock(ffi::SQLITE_LOCK_NONE), ffi::SQLITE_OK);
        let mut moved: c_int = 7;
        // SAFETY: HAS_MOVED's out-parameter; COMMIT_PHASETWO takes none.
        unsafe {
            assert_eq!(db.file_control(ffi::SQLITE_FCNTL_HAS_MOVED, (&raw mut moved).cast()), ffi::SQLITE_OK);
            assert_eq!(moved, 0, "answered by the lower file");
            assert_eq!(db.write(0, &page1(2)), ffi::SQLITE_OK);
            assert_eq!(db.file_control(ffi::SQLITE_FCNTL_COMMIT_PHASETWO, ptr::null_mut()), ffi::SQLITE_NOTFOUND);
        }
        assert_eq!(db.write(0, &page1(1)), ffi::SQLITE_IOERR_WRITE, "committed: no restore");
        assert_eq!(take_log().len(), 1);
        assert_eq!(db.close(), ffi::SQLITE_OK);
    }

    /// Companions are tied to their database by the exact address SQLite keeps their names at:
    /// two connections to one file each find their own guard, and a copy of a name (a VFS above
    /// walguard that passes its own) finds none, however close it lies.
    #[test]
    fn journals_and_wals_find_their_database_by_sqlites_layout_only() {
        let (a, b) = (Names::new("/mem/twice.db", &[]), Names::new("/mem/twice.db", &[("cache", "private")]));
        // SAFETY: the names outlive the files.
        let (db_a, db_b) = unsafe { (Open::new(a.db(), FLAGS), Open::new(b.db(), FLAGS | ffi::SQLITE_OPEN_URI)) };
        let (ga, gb) = (find(a.journal(), Companion::Journal).unwrap(), find(b.journal(), Companion::Journal).unwrap());
        assert_ne!(ga, gb);
        assert_eq!(find(a.wal(), Companion::Wal), Some(ga));
        assert_eq!(find(b.wal(), Companion::Wal), Some(gb));
        assert_eq!(find(a.wal(), Companion::Journal), None, "a WAL's name is not a journal's");
        let copy = CString::new("/mem/twice.db-journal").unwrap();
        assert_eq!(find(copy.as_ptr(), Companion::Journal), None, "a copy of the name");
        assert_eq!((db_a.close(), db_b.close()), (ffi::SQLITE_OK, ffi::SQLITE_OK));
        assert_eq!(find(a.journal(), Companion::Journal), None, "closed");
    }

    /// A URI parameter that is not a policy gets the default policy and a warning: a typo never
    /// unguards a file (the warning goes to stderr too, outside the unit tests).
    #[test]
    fn an_invalid_policy_gets_the_default_and_a_warning() {
        let names = Names::new("/mem/invalid-policy.db", &[("walguard", "OFF")]);
        // SAFETY: `names` outlives the file.
        let db = unsafe { Open::new(names.db(), FLAGS | ffi::SQLITE_OPEN_URI) };
        assert_eq!(db.rc, ffi::SQLITE_OK);
        assert_eq!(db.pragma(c"walguard", None), (ffi::SQLITE_OK, Some("enforce".to_owned())));
        let log = take_log();
        assert!(
            log.len() == 1
                && log[0].1.contains("invalid value 'OFF' for URI parameter walguard")
                && log[0].1.contains("under the default policy, enforce"),
            "{log:?}"
        );
        assert_eq!(db.close(), ffi::SQLITE_OK);
    }

    /// SQLite's WAL-reset race, as the wal-index shows it: the salts change between the
    /// checkpointer's CKPT lock and its READ_LOCK(0); walguard reads them from the mapping the
    /// lower VFS handed out.
    #[test]
    fn a_checkpoint_is_held_back_when_the_wal_was_reset_under_it() {
        let names = Names::new("/mem/reset.db", &[("walguard", "keep")]);
        // SAFETY: `names` outlives the file.
        let db = unsafe { Open::new(names.db(), FLAGS | ffi::SQLITE_OPEN_URI) };
        assert_eq!(db.rc, ffi::SQLITE_OK);
        assert_eq!(db.pragma(c"walguard", None), (ffi::SQLITE_OK, Some("keep".to_owned())));
        let methods = db.methods();
        let (map, lock, unmap) = (methods.xShmMap.unwrap(), methods.xShmLock.unwrap(), methods.xShmUnmap.unwrap());
        // SAFETY: the shm calls as SQLite makes them; the region is 32 KiB, mapped until xShmUnmap.
        unsafe {
            let mut region: *mut c_void = ptr::null_mut();
            assert_eq!(map(db.file(), 0, 32768, 1, &mut region), ffi::SQLITE_OK);
            let region = region.cast::<u8>();
            region.cast::<u32>().write(WAL_INDEX_VERSION);
            region.add(SALT_OFFSET).copy_from_nonoverlapping([1, 2, 3, 4, 5, 6, 7, 8].as_ptr(), 8);
            assert_eq!(lock(db.file(), CKPT_LOCK, 1, SHM_LOCK | SHM_EXCLUSIVE), ffi::SQLITE_OK);
            assert_eq!(lock(db.file(), READ_LOCK_0, 1, SHM_LOCK | SHM_EXCLUSIVE), ffi::SQLITE_OK, "same salts: the checkpoint goes on");
            assert_eq!(lock(db.file(), READ_LOCK_0, 1, SHM_UNLOCK | SHM_EXCLUSIVE), ffi::SQLITE_OK);
            region.add(SALT_OFFSET).write(9);
            assert_eq!(lock(db.file(), READ_LOCK_0, 1, SHM_LOCK | SHM_EXCLUSIVE), ffi::SQLITE_BUSY, "the WAL was reset");
            assert_eq!(lock(db.file(), CKPT_LOCK, 1, SHM_UNLOCK | SHM_EXCLUSIVE), ffi::SQLITE_OK);
            assert_eq!(unmap(db.file(), 0), ffi::SQLITE_OK);
        }
        let log = take_log();
        assert!(log.len() == 1 && log[0].1.starts_with("walguard: held back a checkpoint"), "{log:?}");
        assert_eq!(db.close(), ffi::SQLITE_OK);
    }

    /// A file the loading connection opened before walguard: the lower VFS's own allocation,
    /// with no room for walguard's struct, guarded through a table walguard allocates.
    #[test]
    fn a_database_adopted_at_load() {
        let names = Names::new("/mem/adopted.db", &[("walguard", "keep")]);
        testing::set_file(name(&names), &page1(2));
        let lower_vfs = testing::lower_vfs();
        // SAFETY: the open and the adoption as SQLite and walguard's init make them; `names`
        // outlives the file; the file is closed before its memory is freed.
        unsafe {
            let memory = Allocation::new((*lower_vfs).szOsFile);
            let file: *mut ffi::sqlite3_file = memory.ptr.cast();
            assert_eq!((*lower_vfs).xOpen.unwrap()(lower_vfs, names.db(), file, FLAGS, ptr::null_mut()), ffi::SQLITE_OK);
            let lower_table = (*file).pMethods;
            let adoption = || Adoption {
                vfs: Registered::from_raw(lower_vfs),
                path: name(&names).to_bytes(),
                policy: Policy::Keep,
                read_only: false,
                loader: None,
                journal: None,
            };
            assert!(adopt(file, adoption()).is_ok());
            // The table SQLite calls through is the adopted file's own wrapper, which names it.
            assert!(io::is_wrapped(file), "wrapped");
            assert!((*file).pMethods != lower_table, "another table");
            assert_eq!(io::hooks_of::<Guard>(file).map(|guard| guard.policy()), Some(Policy::Keep));
            assert!(matches!(adopt(file, adoption()), Err(NotAdopted::AlreadyGuarded)));
            let methods = *(*file).pMethods; // a copy: SQLite holds no reference into the table
            // The table reached through another file (a layer that copies `pMethods` into its own
            // file) is not taken for this file's: a misuse, not a write through its guard.
            let mut other: ffi::sqlite3_file = std::mem::zeroed();
            other.pMethods = (*file).pMethods;
            let page = page1(2);
            assert_eq!(methods.xWrite.unwrap()(&raw mut other, page.as_ptr().cast(), PAGE as c_int, 0), ffi::SQLITE_MISUSE);
            let page = page1(1);
            assert_eq!(methods.xWrite.unwrap()(file, page.as_ptr().cast(), PAGE as c_int, 0), ffi::SQLITE_IOERR_WRITE);
            let page = page1(2);
            assert_eq!(methods.xWrite.unwrap()(file, page.as_ptr().cast(), PAGE as c_int, 0), ffi::SQLITE_OK);
            let mut az: [*mut c_char; 3] = [ptr::null_mut(), c"journal_mode".as_ptr().cast_mut(), c"delete".as_ptr().cast_mut()];
            assert_eq!(methods.xFileControl.unwrap()(file, ffi::SQLITE_FCNTL_PRAGMA, az.as_mut_ptr().cast()), ffi::SQLITE_OK);
            assert_eq!(take_sqlite_string(az[0]).as_deref(), Some("wal"), "policy keep answers wal");
            assert_eq!(methods.xClose.unwrap()(file), ffi::SQLITE_OK);
            assert_eq!((*file).pMethods, lower_table, "the lower table is back");
        }
        let log = take_log();
        assert_eq!(log.len(), 2, "{log:?}");
    }
}
