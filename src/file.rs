//! Guarded database files: how a file gets guarded, and the io methods that guard it.
//!
//! A main database gets guarded in one of two ways:
//! - [`open`]: opened through the walguard VFS, the lower file fills the start of SQLite's
//!   allocation and a [`DbTail`] (walguard's table and the guard) follows it (`shim.rs`), found
//!   from the file pointer;
//! - [`adopt`]: a file the loading connection opened before walguard existed has no room for
//!   walguard's struct, so its `pMethods` is pointed at an [`AdoptedFile`] (a table first, then
//!   the guard) that walguard allocates, and finds again from `pMethods` (nothing else sets an
//!   adopted file's table; see [`AdoptedFile`]); closing it puts the lower table back.
//!
//! Both tables are the lower table with `xWrite` (layer 2), `xFileControl` (layer 1,
//! `PRAGMA walguard`, `.vfsname`, the state machine's checkpoint and commit events, the
//! connection), `xUnlock` (the end of a transaction), `xClose` and, with the WAL-reset
//! mitigation on, `xShmMap`/`xShmLock`/`xShmUnmap` replaced;
//! every other entry is the lower function itself, called on the same `sqlite3_file`. The
//! guarded methods are written once, generic over how they find the guard ([`Locate`]).

use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;
use std::{ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::file_control::FileControl;
use walguard_core::wal_reset::SHM_UNLOCK;
use walguard_core::{FileGuard, Policy, settings};

use crate::config;
use crate::guard::{Connection, Guard, Journal};
use crate::host;
use crate::loader::Loader;
use crate::lower;
use crate::shim;

/// Walguard's struct after the lower file of a database opened through the walguard VFS.
pub struct DbTail {
    methods: ffi::sqlite3_io_methods,
    guard: Guard,
}

/// A database file adopted at load: its table and its guard, owned by walguard.
///
/// SQLite calls the file through `methods`, the first field: `adopt` points the file's `pMethods`
/// at the struct itself, so the guarded methods find it from `pMethods` with no lookup. Only an
/// open file's `xOpen` and `xClose` and walguard's adoption set its `pMethods` (a shim that swaps
/// tables does so in its own `xOpen`, and a second copy of walguard never adopts a file any copy
/// guards: `guarded_by_any_walguard`), so after the adoption it stays this struct's until
/// `close_adopted`.
#[repr(C)]
struct AdoptedFile {
    methods: ffi::sqlite3_io_methods,
    /// The file this struct guards: checked on every call, so a table reached from anything but
    /// that file is never taken for it.
    file: *mut ffi::sqlite3_file,
    guard: Guard,
}

/// The open files walguard opened itself: (the address where SQLite keeps the name of their
/// rollback journal, the guard); see [`guard_of`].
static OWNED: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

fn registry(list: &'static Mutex<Vec<(usize, usize)>>) -> std::sync::MutexGuard<'static, Vec<(usize, usize)>> {
    list.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `AdoptedFile` of an adopted file, from its `pMethods` (see [`AdoptedFile`]).
///
/// # Safety
/// `file` is a file `adopt` guards, not closed yet (or closed by SQLite, which clears
/// `pMethods`).
unsafe fn adopted_entry(file: *mut ffi::sqlite3_file) -> Option<*mut AdoptedFile> {
    // SAFETY: the caller vouches that pMethods is null or the AdoptedFile `adopt` installed,
    // whose first field is the table (repr(C)).
    unsafe {
        let entry = (*file).pMethods.cast_mut().cast::<AdoptedFile>();
        (!entry.is_null() && (*entry).file == file).then_some(entry)
    }
}

/// Is `file` guarded by some copy of walguard, perhaps another one (another path or version)?
/// Every copy answers `SQLITE_FCNTL_VFSNAME` with `walguard/<lower>`.
///
/// # Safety
/// `file` is open and not in use by another thread.
unsafe fn guarded_by_any_walguard(file: *mut ffi::sqlite3_file) -> bool {
    let mut name: *mut c_char = ptr::null_mut();
    // SAFETY: the documented out-parameter of VFSNAME; the string it returns is ours to free.
    let name = unsafe {
        let Some(file_control) = (*(*file).pMethods).xFileControl else { return false };
        if file_control(file, ffi::SQLITE_FCNTL_VFSNAME, (&raw mut name).cast()) != ffi::SQLITE_OK {
            return false;
        }
        host::SqliteString::from_raw(name)
    };
    name.is_some_and(|name| name.to_bytes().starts_with(b"walguard/"))
}

/// A file SQLite names after its database's name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Companion {
    Journal,
    Wal,
}

/// Where SQLite keeps the name of the rollback journal of the database it is opening under
/// `name` (`flags` as passed to `xOpen`).
///
/// `sqlite3PagerOpen` (every version walguard supports) lays out in one allocation the
/// database's name, its URI parameters (`key\0value\0`... then an empty key; just the empty key
/// without `SQLITE_OPEN_URI`), the journal's name, then the WAL's (`<name>-journal\0<name>-wal`),
/// and passes pointers into it to `xOpen`. A companion is matched to its database by that exact
/// address, never by a nearby one: a VFS above walguard that passes its own copies of the names
/// (SQLite's multiplexor does) matches nothing, and its journal and WAL are the lower VFS's.
/// The parameters are walked only where SQLite's own VFS reads them (`SQLITE_OPEN_URI`).
///
/// # Safety
/// `name` is NUL-terminated; with `SQLITE_OPEN_URI`, it is a database filename as SQLite makes
/// it, its URI parameters after it.
unsafe fn journal_name_address(name: *const c_char, flags: c_int) -> usize {
    // SAFETY: the caller vouches for the string and, with the URI flag, for the parameters.
    unsafe {
        let mut at = name.add(libc_strlen(name) + 1);
        if flags & ffi::SQLITE_OPEN_URI != 0 {
            while *at != 0 {
                at = at.add(libc_strlen(at) + 1); // the key
                at = at.add(libc_strlen(at) + 1); // its value
            }
        }
        at.add(1) as usize
    }
}

/// The length of a NUL-terminated string.
///
/// # Safety
/// `s` is NUL-terminated.
unsafe fn libc_strlen(s: *const c_char) -> usize {
    // SAFETY: as the caller vouches.
    unsafe { std::ffi::CStr::from_ptr(s) }.to_bytes().len()
}

/// The guard of the database whose `companion` SQLite is opening under `name`: the database
/// whose journal name SQLite keeps at `name` (or, for its WAL, just before: the journal's name
/// then the WAL's), and whose name is `name` without its suffix. See [`journal_name_address`].
///
/// # Safety
/// `name` is NUL-terminated (SQLite's, or a caller's copy).
pub unsafe fn guard_of(name: *const c_char, companion: Companion) -> Option<*mut Guard> {
    // SAFETY: the caller vouches for the string.
    let companion_name = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes();
    let (stem, journal_at) = match companion {
        Companion::Journal => (companion_name.strip_suffix(b"-journal")?, name as usize),
        // The journal's name, `<stem>-journal` and its NUL, comes right before the WAL's.
        Companion::Wal => {
            let stem = companion_name.strip_suffix(b"-wal")?;
            (stem, (name as usize).checked_sub(stem.len() + b"-journal\0".len())?)
        }
    };
    let guard = registry(&OWNED).iter().find(|&&(at, _)| at == journal_at).map(|&(_, guard)| guard as *mut Guard)?;
    // SAFETY: a registered guard lives until its file is closed (it is unregistered first).
    (unsafe { (*guard).path_bytes() } == stem).then_some(guard)
}

/// Open a rollback journal through the lower VFS; when its database is guarded here, tell
/// the guard which handle its pager journals through (`Disk::journal_restores_page1`).
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen` for a file with `SQLITE_OPEN_MAIN_JOURNAL`; `file`
/// is the pager's journal handle, allocated with the pager.
pub unsafe fn open_journal(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: as the caller vouches.
    let opened_with = match unsafe { lower::open(lower_vfs, name, file, flags, out_flags) } {
        Ok(table) => table,
        Err(rc) => return rc,
    };
    // SAFETY: SQLite passes the name NUL-terminated.
    if let Some(guard) = unsafe { guard_of(name, Companion::Journal) } {
        // SAFETY: a registered guard lives until its file closes, which SQLite does after
        // closing the journal; SQLite serialises the pager's calls; `opened_with` is the
        // table the lower xOpen just set.
        unsafe { (*guard).journal_opened(Journal { file, reads_with: (*opened_with).xRead }) };
    }
    ffi::SQLITE_OK
}

/// How the guarded methods find a file's guard.
trait Locate {
    /// `None` only for a file SQLite has closed already (a misuse): the methods answer
    /// `SQLITE_MISUSE` rather than panic across the FFI boundary.
    ///
    /// # Safety
    /// `file` is open with a table that [`open`] or [`adopt`] built for this locator.
    unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Guard>;
}

/// The file has a [`DbTail`].
struct Owned;
/// The file is adopted: its `pMethods` is its [`AdoptedFile`].
struct Adopted;

impl Locate for Owned {
    #[inline(always)]
    unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Guard> {
        // SAFETY: the caller vouches that `file` has a DbTail; SQLite serialises calls on it.
        Some(unsafe { &mut (*shim::tail::<DbTail>(file)).guard })
    }
}

impl Locate for Adopted {
    unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Guard> {
        // SAFETY: the caller vouches that `file` is adopted; the AdoptedFile lives (boxed, never
        // moved) until its xClose; SQLite serialises calls on one file.
        unsafe { adopted_entry(file).map(|entry| &mut (*entry).guard) }
    }
}

/// Is `file` guarded by this copy of walguard (opened through it, or adopted)?
///
/// # Safety
/// `file` is open.
unsafe fn guarded_here(file: *mut ffi::sqlite3_file) -> bool {
    // SAFETY: an open file has a valid table.
    let close = unsafe { (*(*file).pMethods).xClose };
    close.is_some_and(|f| {
        ptr::fn_addr_eq(f, close_owned as unsafe extern "C" fn(_) -> _) || ptr::fn_addr_eq(f, close_adopted as unsafe extern "C" fn(_) -> _)
    })
}

/// The methods both tables replace, for locator `L`. The wal-index methods are watched for the
/// WAL-reset salt check, and on hosts older than 3.32.0 for their checkpoints
/// (`walguard_core::checkpoint`).
fn guard_methods<L: Locate>(table: &mut ffi::sqlite3_io_methods, lower: &ffi::sqlite3_io_methods, guard: &Guard) {
    table.xWrite = Some(write::<L>);
    table.xUnlock = lower.xUnlock.and(Some(unlock::<L>));
    table.xFileControl = Some(file_control::<L>);
    if lower.iVersion >= 2 && lower.xShmLock.is_some() && lower.xShmMap.is_some() && lower.xShmUnmap.is_some() && guard.watches_shm() {
        table.xShmLock = Some(shm_lock::<L>);
        table.xShmMap = Some(shm_map::<L>);
        table.xShmUnmap = Some(shm_unmap::<L>);
    }
}

/// Open a main database file through the lower VFS and guard it.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen`; `file` is an allocation of the walguard VFS's
/// `szOsFile` bytes (`shim::os_file_size`); `name` is a database filename SQLite keeps valid
/// until xClose.
#[inline(never)]
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // URI parameters are read only from a URI filename, as SQLite's own VFSes do: a VFS above
    // walguard may pass a plain name with nothing after it.
    let uri = flags & ffi::SQLITE_OPEN_URI != 0;
    // SAFETY: with `uri`, `name` is a database filename SQLite made, URI parameters after it.
    let policy = if uri { unsafe { policy_from_uri(name) } } else { config::default_policy() };
    // SAFETY: as the caller vouches; the lower file takes the start of `file`.
    let lower_methods = match unsafe { lower::open(lower_vfs, name, file, flags, out_flags) } {
        Ok(table) => table,
        Err(rc) => return rc,
    };
    // SAFETY: `name` is the NUL-terminated name SQLite passed; `lower_methods` the lower
    // file's table, valid while it is open.
    let (path, version) = unsafe { (String::from_utf8_lossy(host::bytes(name).unwrap_or_default()), (*lower_methods).iVersion) };
    if !KNOWN_VERSIONS.contains(&version) {
        host::log(ffi::SQLITE_WARNING, &format!("walguard: io-methods version {version} is unknown, so the file is NOT guarded: '{path}'"));
        return ffi::SQLITE_OK;
    }
    if policy == Policy::Off {
        host::log(ffi::SQLITE_NOTICE, &format!("walguard: guard off (URI parameter walguard=off): '{path}'"));
    }
    // SAFETY: `file` is open with `lower_methods` by `lower_vfs`; `name` stays valid until
    // xClose; `uri` as above.
    let mut guard = unsafe { Guard::new(file, lower_methods, lower_vfs, name, policy, uri) };
    // SAFETY: `out_flags` is null or SQLite's output slot, just written by the lower xOpen.
    if flags & ffi::SQLITE_OPEN_READONLY != 0 || (!out_flags.is_null() && unsafe { *out_flags } & ffi::SQLITE_OPEN_READONLY != 0) {
        guard.opened_read_only();
    }
    // SAFETY: `lower_methods` is the lower file's valid table (checked non-null above).
    let lower_table = unsafe { &*lower_methods };
    let mut methods = ffi::sqlite3_io_methods { xClose: Some(close_owned), ..*lower_table };
    guard_methods::<Owned>(&mut methods, lower_table, &guard);
    // SAFETY: `file` has the walguard VFS's szOsFile bytes, so the tail after the lower file is
    // in bounds, aligned, and unused until now (`shim::tail`); SQLite reads pMethods only after
    // xOpen returns, when it points at the table inside the tail, which lives until xClose.
    unsafe {
        let tail = shim::tail::<DbTail>(file);
        ptr::write(tail, DbTail { methods, guard });
        (*file).pMethods = &raw const (*tail).methods;
        registry(&OWNED).push((journal_name_address(name, flags), &raw mut (*tail).guard as usize));
    }
    ffi::SQLITE_OK
}

/// The io-methods versions whose every field walguard's table carries: a newer table would
/// have fields past the end of ours.
pub const KNOWN_VERSIONS: std::ops::RangeInclusive<c_int> = 1..=3;

/// Why an open file could not be adopted.
pub enum NotAdopted {
    /// Already guarded (opened through walguard, or adopted before).
    AlreadyGuarded,
    /// Its io methods have a version walguard does not know.
    UnknownVersion(c_int),
}

/// Guard a file that is already open, from now on.
///
/// # Safety
/// `file` is an open main database file of connection `db`, whose mutex the caller holds (no
/// call on the file is in progress); `vfs` opened it; `path` is its filename as SQLite keeps
/// it (valid until the file is closed); `journal` is null or what `SQLITE_FCNTL_JOURNAL_POINTER`
/// answers for its schema.
pub unsafe fn adopt(
    file: *mut ffi::sqlite3_file,
    vfs: *mut ffi::sqlite3_vfs,
    path: *const c_char,
    db: *mut ffi::sqlite3,
    read_only: bool,
    journal: *mut ffi::sqlite3_file,
) -> Result<Policy, NotAdopted> {
    // SAFETY: the caller vouches that `file` is open, so pMethods is a valid table.
    let lower = unsafe { &*(*file).pMethods };
    // SAFETY: the caller vouches that `file` is open and not in use.
    if unsafe { guarded_here(file) || guarded_by_any_walguard(file) } {
        return Err(NotAdopted::AlreadyGuarded);
    }
    if !KNOWN_VERSIONS.contains(&lower.iVersion) {
        return Err(NotAdopted::UnknownVersion(lower.iVersion));
    }
    // SAFETY: `path` is a database filename, which sqlite3_uri_parameter accepts.
    let policy = unsafe { policy_from_uri(path) };
    // SAFETY: the caller vouches for `file`, `vfs` and `path`.
    let mut guard = unsafe { Guard::new(file, lower, vfs, path, policy, true) };
    // SAFETY: the caller vouches for `db` (null in the unit tests, which have no connection)
    // and holds its mutex.
    if let Some(loader) = (!db.is_null()).then(|| unsafe { Loader::of(db) }).flatten() {
        guard.used_by(Connection::Loader(loader));
    }
    if read_only {
        guard.opened_read_only();
    }
    // The pager's journal handle is known for sure only while it is closed: with a WAL open,
    // SQLITE_FCNTL_JOURNAL_POINTER answers the WAL file instead.
    // SAFETY: null, or the pager's journal handle, allocated with the pager.
    if !journal.is_null() && unsafe { (*journal).pMethods }.is_null() {
        // SAFETY: `vfs` opened the file (the caller vouches), so it opens its journals too.
        let reads_with = unsafe { journal_read_of(vfs) };
        guard.journal_opened(Journal { file: journal, reads_with });
    }
    let mut methods = ffi::sqlite3_io_methods { xClose: Some(close_adopted), ..*lower };
    guard_methods::<Adopted>(&mut methods, lower, &guard);
    let entry = Box::into_raw(Box::new(AdoptedFile { methods, file, guard }));
    // SAFETY: the caller holds the connection's mutex, so nothing uses the table while it is
    // swapped; the AdoptedFile, whose first field is the table, lives until `close_adopted`
    // reclaims it.
    unsafe { (*file).pMethods = entry.cast_const().cast() };
    Ok(policy)
}

/// The `xRead` the journals of `vfs` read with. A VFS may give its journals another table than
/// its database files (SQLite's unix VFS: one without locks; cksumvfs.c and appendvfs.c: the
/// table of the VFS below), so walguard asks: it opens a temporary journal through `vfs` (a
/// deleted-on-close file, no name), reads its `xRead`, and closes it. `None` (no journal grants
/// anything then) when that fails.
///
/// # Safety
/// `vfs` is a registered VFS.
unsafe fn journal_read_of(vfs: *mut ffi::sqlite3_vfs) -> crate::guard::Read {
    // SAFETY: an open and a close as SQLite makes them, into 8-aligned storage of szOsFile bytes.
    unsafe {
        let mut storage = vec![0u64; usize::try_from((*vfs).szOsFile).ok()?.div_ceil(8).max(1)];
        let file: *mut ffi::sqlite3_file = storage.as_mut_ptr().cast();
        let flags = ffi::SQLITE_OPEN_TEMP_JOURNAL
            | ffi::SQLITE_OPEN_READWRITE
            | ffi::SQLITE_OPEN_CREATE
            | ffi::SQLITE_OPEN_EXCLUSIVE
            | ffi::SQLITE_OPEN_DELETEONCLOSE;
        let rc = (*vfs).xOpen?(vfs, ptr::null(), file, flags, ptr::null_mut());
        let methods = (*file).pMethods;
        if methods.is_null() {
            return None;
        }
        let read = (*methods).xRead;
        if let Some(close) = (*methods).xClose {
            close(file);
        }
        read.filter(|_| rc == ffi::SQLITE_OK)
    }
}

/// The policy for one file: the `walguard` URI parameter, or the process default (with a
/// warning when the parameter is not a policy: `walguard_core::settings`).
///
/// # Safety
/// `name` is a database filename as SQLite passes it to `xOpen`.
unsafe fn policy_from_uri(name: *const c_char) -> Policy {
    // SAFETY: sqlite3_uri_parameter accepts any such filename and returns null or a string
    // that lives as long as the filename; `name` is NUL-terminated.
    let (value, path) = unsafe { (host::bytes(ffi::sqlite3_uri_parameter(name, c"walguard".as_ptr())), host::bytes(name)) };
    let path = String::from_utf8_lossy(path.unwrap_or_default());
    config::accept(settings::file_policy(value, config::default_policy(), &path))
}

// The guarded methods. The lower methods exist where they are installed (SQLite requires
// the first ones of every file), so the `else` arms are unreachable in practice; they answer
// an error rather than panic across the FFI boundary.

unsafe extern "C" fn close_owned(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the DbTail was written by `open` and is dropped
    // exactly once, here, after the lower table is back in place and the file closed; the
    // memory is SQLite's.
    unsafe {
        let tail = shim::tail::<DbTail>(file);
        let guard = &raw mut (*tail).guard as usize;
        registry(&OWNED).retain(|&(_, g)| g != guard);
        let lower = (*tail).guard.db.lower;
        (*file).pMethods = lower.table();
        let rc = lower.methods().xClose.map_or(ffi::SQLITE_OK, |f| f(file));
        ptr::drop_in_place(tail);
        rc
    }
}

unsafe extern "C" fn close_adopted(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes an adopted file once, through the AdoptedFile's table.
    let Some(entry) = (unsafe { adopted_entry(file) }) else { return ffi::SQLITE_MISUSE };
    // SAFETY: the entry was boxed by `adopt` and is reclaimed exactly once, here, after the
    // lower table is back in place.
    unsafe {
        let adopted = Box::from_raw(entry);
        (*file).pMethods = adopted.guard.db.lower.table();
        adopted.guard.db.lower.methods().xClose.map_or(ffi::SQLITE_OK, |f| f(file))
    }
}

unsafe extern "C" fn write<L: Locate>(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let Some(g) = L::guard(file) else { return ffi::SQLITE_MISUSE };
        let Some(f) = g.db.lower.methods().xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if !FileGuard::may_concern_header(offset) {
            return f(g.db.lower.file(), buf, amt, offset); // the hot path: any page but page 1, a tail call
        }
        write_page1(g, f, buf, amt, offset)
    }
}

type Write = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, ffi::sqlite3_int64) -> c_int;

/// A write that may cover byte 19: layer 2 decides, then the lower `xWrite` writes.
///
/// # Safety
/// As [`write`]; `lower_write` is the lower xWrite of the guard's file.
#[inline(never)]
unsafe fn write_page1(g: &mut Guard, lower_write: Write, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    // SAFETY: SQLite's buffer holds `amt` bytes; writing it through the lower method.
    unsafe {
        match g.check_database_write(offset, slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize)) {
            Ok(()) => lower_write(g.db.lower.file(), buf, amt, offset),
            Err(rc) => rc,
        }
    }
}

unsafe extern "C" fn shm_lock<L: Locate>(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xShmLock.
    unsafe {
        let Some(g) = L::guard(file) else { return ffi::SQLITE_MISUSE };
        let Some(f) = g.db.lower.methods().xShmLock else { return ffi::SQLITE_IOERR_SHMLOCK };
        if !g.reset_tracks(offset, n, flags) {
            return f(g.db.lower.file(), offset, n, flags); // the hot path: shared locks, readers' marks; a tail call
        }
        shm_lock_tracked(g, f, offset, n, flags)
    }
}

type ShmLock = unsafe extern "C" fn(*mut ffi::sqlite3_file, c_int, c_int, c_int) -> c_int;

/// An exclusive lock or unlock the WAL-reset salt check follows (`ResetGuard::tracks`).
///
/// # Safety
/// As [`shm_lock`]; `lower` is the lower xShmLock of the guard's file.
#[inline(never)]
unsafe fn shm_lock_tracked(g: &mut Guard, lower: ShmLock, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: forwarding SQLite's own arguments.
    let rc = unsafe { lower(g.db.lower.file(), offset, n, flags) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    if flags & SHM_UNLOCK != 0 {
        g.shm_unlocked_exclusive(offset, n);
        return rc;
    }
    g.shm_locked_exclusive(offset, n).err().unwrap_or(rc)
}

unsafe extern "C" fn shm_map<L: Locate>(
    file: *mut ffi::sqlite3_file,
    index: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xShmMap.
    unsafe {
        let Some(g) = L::guard(file) else { return ffi::SQLITE_MISUSE };
        let Some(f) = g.db.lower.methods().xShmMap else { return ffi::SQLITE_IOERR_SHMMAP };
        let rc = f(g.db.lower.file(), index, size, extend, out);
        // SQLITE_READONLY: a read-only mapping, still the wal-index SQLite reads.
        if (rc == ffi::SQLITE_OK || rc == ffi::SQLITE_READONLY) && !(*out).is_null() {
            g.shm_mapped(index, (*out).cast_const().cast());
        }
        rc
    }
}

unsafe extern "C" fn shm_unmap<L: Locate>(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xShmUnmap.
    unsafe {
        let Some(g) = L::guard(file) else { return ffi::SQLITE_MISUSE };
        g.shm_mapped(0, ptr::null());
        let Some(f) = g.db.lower.methods().xShmUnmap else { return ffi::SQLITE_OK };
        f(g.db.lower.file(), delete)
    }
}

unsafe extern "C" fn unlock<L: Locate>(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xUnlock.
    unsafe {
        let Some(g) = L::guard(file) else { return ffi::SQLITE_MISUSE };
        g.unlocked();
        let Some(f) = g.db.lower.methods().xUnlock else { return ffi::SQLITE_IOERR_UNLOCK };
        f(g.db.lower.file(), level)
    }
}

unsafe extern "C" fn file_control<L: Locate>(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        let Some(g) = L::guard(file) else { return ffi::SQLITE_MISUSE };
        match FileControl::of(op) {
            FileControl::Forward => g.file_control(op, arg), // the hot path: a tail call
            control => intercepted_file_control(g, control, op, arg),
        }
    }
}

/// The file-controls walguard answers or watches.
///
/// # Safety
/// As [`file_control`].
#[inline(never)]
unsafe fn intercepted_file_control(g: &mut Guard, control: FileControl, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        match control {
            FileControl::Pragma => {
                if let Some(rc) = g.pragma(arg.cast()) {
                    return rc;
                }
            }
            FileControl::VfsName => return g.vfs_name(arg.cast()),
            FileControl::StateEvent => g.file_control_event(op),
            FileControl::ConnectionSlot => g.connection_slot(arg.cast_const().cast()),
            FileControl::Forward => {}
        }
        g.file_control(op, arg)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use walguard_core::journal::{JOURNAL_MAGIC, page_checksum};
    use walguard_core::wal_reset::{CKPT_LOCK, READ_LOCK_0, SALT_OFFSET, SHM_EXCLUSIVE, SHM_LOCK, WAL_INDEX_VERSION};

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
        let tail = start + shim::tail_offset()..start + db.memory.layout.size();
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
        // SAFETY: a NUL-terminated name within `names`.
        assert!(unsafe { guard_of(names.wal(), Companion::Wal) }.is_none(), "the closed database is unregistered");
        drop(jrnl);
    }

    /// Companions are tied to their database by the exact address SQLite keeps their names at:
    /// two connections to one file each find their own guard, and a copy of a name (a VFS above
    /// walguard that passes its own) finds none, however close it lies.
    #[test]
    fn journals_and_wals_find_their_database_by_sqlites_layout_only() {
        let (a, b) = (Names::new("/mem/twice.db", &[]), Names::new("/mem/twice.db", &[("cache", "private")]));
        // SAFETY: the names outlive the files.
        let (db_a, db_b) = unsafe { (Open::new(a.db(), FLAGS), Open::new(b.db(), FLAGS | ffi::SQLITE_OPEN_URI)) };
        // SAFETY: NUL-terminated names, within `a`, `b` and `copy`.
        let find = |name, companion| unsafe { guard_of(name, companion) };
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
            assert!(matches!(adopt(file, lower_vfs, names.db(), ptr::null_mut(), false, ptr::null_mut()), Ok(Policy::Keep)));
            // The table SQLite calls through is the adopted file's own struct, which names it.
            let entry = (*file).pMethods.cast::<AdoptedFile>();
            assert_eq!((*entry).file, file);
            assert!(matches!(adopt(file, lower_vfs, names.db(), ptr::null_mut(), false, ptr::null_mut()), Err(NotAdopted::AlreadyGuarded)));
            let methods = &*(*file).pMethods;
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
