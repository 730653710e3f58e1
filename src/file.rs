//! Guarded files and their io methods: main databases, and the WAL files of guarded ones.
//!
//! A file is guarded by pointing its `pMethods` at a heap block: an io-methods table followed
//! by the file's state, which keeps the lower table. For a main database ([`Block`]) the same
//! mechanism serves both ways a file gets guarded:
//! - [`open`]: a main database opened through the walguard VFS is opened by the lower VFS
//!   on SQLite's own `sqlite3_file`, then guarded;
//! - [`adopt`]: a file the loading connection opened before walguard existed is guarded in
//!   place, from the load on.
//!
//! A WAL file opened through the walguard VFS for a guarded database ([`open_wal`]) gets a
//! [`WalBlock`], which finds the database's guard through `sqlite3_database_file_object`, as
//! SQLite's cksumvfs.c does, and checks every page-1 frame written to it.
//!
//! Closing a file puts the lower table back, closes the file and frees the block. SQLite
//! closes a database's WAL before the database file (`sqlite3PagerClose`), so a WAL block's
//! pointer to the database's guard never dangles.
//!
//! walguard's database table is the lower one with three methods replaced: `xWrite` (layer
//! 2), `xFileControl` (layer 1, `PRAGMA walguard`, `.vfsname`, and the state machine's
//! checkpoint events) and `xClose`; a WAL's replaces `xWrite` and `xClose`. Every
//! other entry is the lower function itself, called on the same `sqlite3_file` as it always
//! was: reading, locking, syncing, shared memory and memory mapping pay nothing, and
//! `iVersion` and the optional methods are exactly the lower file's.

use std::ffi::{c_char, c_int, c_void};
use std::{ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::Policy;
use walguard_core::header::READ_VERSION_OFFSET;
use walguard_core::wal::{FrameTracker, Probe, WAL_HEADER_LEN};
use walguard_core::wal_reset::{SHM_EXCLUSIVE, SHM_UNLOCK};

use crate::config;
use crate::guard::{Connection, Guard};
use crate::sqlite;

/// What a guarded file's `pMethods` points to.
#[repr(C)]
struct Block {
    /// Must come first: `pMethods` points here.
    methods: ffi::sqlite3_io_methods,
    guard: Guard,
}

/// The guard of a file whose `pMethods` is a [`Block`].
///
/// # Safety
/// `file` is a guarded, open file; SQLite serialises calls on one file.
unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Guard {
    // SAFETY: the caller vouches that pMethods is the first field of a live Block.
    unsafe { &mut (*(*file).pMethods.cast::<Block>().cast_mut()).guard }
}

/// Open a main database file through the lower VFS and guard it.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen`; `file` has room for the lower szOsFile; `name`
/// is a database filename SQLite keeps valid until xClose.
#[inline(never)]
pub unsafe fn open(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: as the caller vouches; a failed lower open leaves pMethods as the lower VFS
    // set it, for SQLite to close, exactly as without walguard.
    unsafe {
        let policy = match policy_from_uri(name) {
            Ok(policy) => policy,
            Err(message) => {
                sqlite::log(ffi::SQLITE_CANTOPEN, &message);
                (*file).pMethods = std::ptr::null();
                return ffi::SQLITE_CANTOPEN;
            }
        };
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        let rc = lower_open(lower_vfs, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*file).pMethods.is_null() {
            return rc;
        }
        let path = String::from_utf8_lossy(sqlite::bytes(name).unwrap_or_default());
        let version = (*(*file).pMethods).iVersion;
        if !KNOWN_VERSIONS.contains(&version) {
            sqlite::log(
                ffi::SQLITE_WARNING,
                &format!("walguard: io-methods version {version} is unknown, so the file is NOT guarded: '{path}'"),
            );
            return ffi::SQLITE_OK;
        }
        if policy == Policy::Off {
            sqlite::log(ffi::SQLITE_NOTICE, &format!("walguard: guard off (URI parameter walguard=off): '{path}'"));
        }
        let mut guard = Guard::new(file, (*file).pMethods, lower_vfs, name, policy);
        let read_only = flags & ffi::SQLITE_OPEN_READONLY != 0 || (!out_flags.is_null() && *out_flags & ffi::SQLITE_OPEN_READONLY != 0);
        if read_only {
            guard.opened_read_only();
        }
        install(file, guard);
        ffi::SQLITE_OK
    }
}

/// The io-methods versions whose every field walguard's table carries: a newer table would
/// have fields past the end of ours.
const KNOWN_VERSIONS: std::ops::RangeInclusive<c_int> = 1..=3;

/// Why an open file could not be adopted.
pub enum NotAdopted {
    /// Already guarded (opened through walguard, or adopted before).
    AlreadyGuarded,
    /// Its io methods have a version walguard does not know.
    UnknownVersion(c_int),
}

/// Guard a file that is already open, from now on. A `walguard` URI parameter that is not a
/// policy is reported, and the file is guarded under the process default: a new open of
/// such a file fails, but this one is open already, and leaving it unguarded would be worse.
///
/// # Safety
/// `file` is an open main database file of connection `db`, whose mutex the caller holds (no
/// call on the file is in progress); `vfs` opened it; `path` is its filename as SQLite keeps
/// it (valid until the file is closed).
pub unsafe fn adopt(
    file: *mut ffi::sqlite3_file,
    vfs: *mut ffi::sqlite3_vfs,
    path: *const c_char,
    db: *mut ffi::sqlite3,
    read_only: bool,
) -> Result<Policy, NotAdopted> {
    // SAFETY: the caller vouches that `file` is open, so pMethods is a valid table.
    let lower = unsafe { &*(*file).pMethods };
    if lower.xClose.is_some_and(|f| std::ptr::fn_addr_eq(f, close as unsafe extern "C" fn(_) -> _)) {
        return Err(NotAdopted::AlreadyGuarded);
    }
    if !KNOWN_VERSIONS.contains(&lower.iVersion) {
        return Err(NotAdopted::UnknownVersion(lower.iVersion));
    }
    // SAFETY: `path` is a database filename, which sqlite3_uri_parameter accepts.
    let policy = unsafe { policy_from_uri(path) }.unwrap_or_else(|message| {
        sqlite::log(ffi::SQLITE_WARNING, &format!("{message}; guarding it under the default policy"));
        config::default_policy()
    });
    // SAFETY: the caller vouches for `file`, `vfs` and `path`; it holds the connection's
    // mutex, so nothing uses the table while it is swapped.
    let mut guard = unsafe { Guard::new(file, lower, vfs, path, policy) };
    guard.used_by(Connection::Handle(db));
    if read_only {
        guard.opened_read_only();
    }
    // SAFETY: as above.
    unsafe { install(file, guard) };
    Ok(policy)
}

/// Point `file` at a new block holding walguard's table over the guard's lower table.
///
/// # Safety
/// `file` is open with the guard's lower table and not in use by another thread.
unsafe fn install(file: *mut ffi::sqlite3_file, guard: Guard) {
    // SAFETY: the lower table is the file's valid table.
    let lower = unsafe { &*guard.lower.methods };
    let mut methods = ffi::sqlite3_io_methods { xClose: Some(close), xWrite: Some(write), xFileControl: Some(file_control), ..*lower };
    if lower.xShmLock.is_some() && lower.xShmMap.is_some() && lower.xShmUnmap.is_some() && config::wal_reset_fix() {
        methods.xShmLock = Some(shm_lock);
        methods.xShmMap = Some(shm_map);
        methods.xShmUnmap = Some(shm_unmap);
    }
    let block = Box::leak(Box::new(Block { methods, guard }));
    // SAFETY: the block lives until `close` reclaims it.
    unsafe { (*file).pMethods = &block.methods };
}

/// The policy for one file: the `walguard` URI parameter, or the process default.
///
/// # Safety
/// `name` is a database filename as SQLite passes it to `xOpen`.
unsafe fn policy_from_uri(name: *const c_char) -> Result<Policy, String> {
    // SAFETY: sqlite3_uri_parameter accepts any such filename and returns null or a string
    // that lives as long as the filename.
    let value = unsafe { sqlite::bytes(ffi::sqlite3_uri_parameter(name, c"walguard".as_ptr())) };
    match value {
        None => Ok(config::default_policy()),
        Some(v) => Policy::parse(v).ok_or_else(|| {
            format!(
                "walguard: invalid value '{}' for URI parameter walguard; valid values: {}",
                String::from_utf8_lossy(v),
                Policy::valid_names()
            )
        }),
    }
}

// The io methods walguard replaces. The lower methods exist (SQLite requires them of every
// file), so the `else` arms are unreachable in practice; they return an error rather than
// panic across the FFI boundary.

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the block was leaked by `install` and is
    // reclaimed exactly once, here, after the lower table is back in place.
    unsafe {
        let block = Box::from_raw((*file).pMethods.cast::<Block>().cast_mut());
        (*file).pMethods = block.guard.lower.methods;
        (*block.guard.lower.methods).xClose.map_or(ffi::SQLITE_OK, |f| f(file))
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes.
    unsafe {
        let g = guard(file);
        let Some(f) = (*g.lower.methods).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        if offset > READ_VERSION_OFFSET as i64 {
            return f(file, buf, amt, offset); // the hot path: any page but page 1, a tail call
        }
        write_page1(g, file, f, buf, amt, offset)
    }
}

type Write = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, ffi::sqlite3_int64) -> c_int;

/// A write that may cover byte 19: layer 2 decides, then the lower `xWrite` writes.
///
/// # Safety
/// As [`write`]; `lower_write` is the lower xWrite of `file`.
#[inline(never)]
unsafe fn write_page1(
    g: &mut Guard,
    file: *mut ffi::sqlite3_file,
    lower_write: Write,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite's buffer holds `amt` bytes; writing it through the lower method.
    unsafe {
        match g.check_database_write(offset, slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize)) {
            Ok(()) => lower_write(file, buf, amt, offset),
            Err(rc) => rc,
        }
    }
}

unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xShmLock.
    unsafe {
        let g = guard(file);
        let Some(f) = (*g.lower.methods).xShmLock else { return ffi::SQLITE_IOERR_SHMLOCK };
        if flags & SHM_EXCLUSIVE == 0 {
            return f(file, offset, n, flags); // the hot path: readers' shared locks, a tail call
        }
        shm_lock_exclusive(g, file, f, offset, n, flags)
    }
}

unsafe extern "C" fn shm_map(file: *mut ffi::sqlite3_file, index: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xShmMap.
    unsafe {
        let g = guard(file);
        let Some(f) = (*g.lower.methods).xShmMap else { return ffi::SQLITE_IOERR_SHMMAP };
        let rc = f(file, index, size, extend, out);
        // SQLITE_READONLY: a read-only mapping, still the wal-index SQLite reads.
        if (rc == ffi::SQLITE_OK || rc == ffi::SQLITE_READONLY) && !(*out).is_null() {
            g.shm_mapped(index, (*out).cast_const().cast());
        }
        rc
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: SQLite's own arguments; installed only over a lower xShmUnmap.
    unsafe {
        let g = guard(file);
        g.shm_mapped(0, ptr::null());
        let Some(f) = (*g.lower.methods).xShmUnmap else { return ffi::SQLITE_OK };
        f(file, delete)
    }
}

type ShmLock = unsafe extern "C" fn(*mut ffi::sqlite3_file, c_int, c_int, c_int) -> c_int;

/// An exclusive lock or unlock: the events of the WAL-reset salt check.
///
/// # Safety
/// As [`shm_lock`]; `lower` is the lower xShmLock of `file`.
#[inline(never)]
unsafe fn shm_lock_exclusive(g: &mut Guard, file: *mut ffi::sqlite3_file, lower: ShmLock, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: forwarding SQLite's own arguments.
    let rc = unsafe { lower(file, offset, n, flags) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    if flags & SHM_UNLOCK != 0 {
        g.shm_unlocked_exclusive(offset, n);
        return rc;
    }
    g.shm_locked_exclusive(offset, n).err().unwrap_or(rc)
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        match op {
            ffi::SQLITE_FCNTL_PRAGMA
            | ffi::SQLITE_FCNTL_VFSNAME
            | ffi::SQLITE_FCNTL_CKPT_START
            | ffi::SQLITE_FCNTL_CKPT_DONE
            | ffi::SQLITE_FCNTL_PDB => intercepted_file_control(guard(file), op, arg),
            _ => guard(file).file_control(op, arg), // the hot path: a tail call
        }
    }
}

/// The file-controls walguard answers or watches.
///
/// # Safety
/// As [`file_control`].
#[inline(never)]
unsafe fn intercepted_file_control(g: &mut Guard, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is what SQLite documents for `op`.
    unsafe {
        match op {
            ffi::SQLITE_FCNTL_PRAGMA => {
                if let Some(rc) = g.pragma(arg.cast()) {
                    return rc;
                }
            }
            ffi::SQLITE_FCNTL_VFSNAME => return g.vfs_name(arg.cast()),
            ffi::SQLITE_FCNTL_CKPT_START => g.checkpoint_started(),
            ffi::SQLITE_FCNTL_CKPT_DONE => g.checkpoint_done(),
            _ => g.used_by(Connection::Slot(arg.cast_const().cast())),
        }
        g.file_control(op, arg)
    }
}

/// What a guarded database's WAL file's `pMethods` points to.
#[repr(C)]
struct WalBlock {
    /// Must come first: `pMethods` points here.
    methods: ffi::sqlite3_io_methods,
    lower_methods: *const ffi::sqlite3_io_methods,
    /// The lower `xWrite`, at hand for the hot path.
    lower_write: Option<unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, ffi::sqlite3_int64) -> c_int>,
    /// The guard of the database this WAL belongs to (see the module comment for why it
    /// outlives the WAL file).
    db: *mut Guard,
    frames: FrameTracker,
}

/// Open a WAL file through the lower VFS, and check its page-1 frames when its database is
/// guarded.
///
/// # Safety
/// Arguments as SQLite passes them to `xOpen` for a file with `SQLITE_OPEN_WAL`; `name` is
/// the WAL name SQLite derived from its database's (what `sqlite3_database_file_object`
/// needs).
pub unsafe fn open_wal(
    lower_vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: as the caller vouches.
    unsafe {
        let Some(lower_open) = (*lower_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        let rc = lower_open(lower_vfs, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*file).pMethods.is_null() || !KNOWN_VERSIONS.contains(&(*(*file).pMethods).iVersion) {
            return rc;
        }
        let db = ffi::sqlite3_database_file_object(name);
        let db_methods = if db.is_null() { ptr::null() } else { (*db).pMethods };
        if db_methods.is_null() || !(*db_methods).xClose.is_some_and(|f| ptr::fn_addr_eq(f, close as unsafe extern "C" fn(_) -> _)) {
            return rc; // its database is not guarded by this library
        }
        let lower = (*file).pMethods;
        let methods = ffi::sqlite3_io_methods { xClose: Some(wal_close), xWrite: Some(wal_write), ..*lower };
        let db = &raw mut (*db_methods.cast::<Block>().cast_mut()).guard;
        let block = Box::into_raw(Box::new(WalBlock {
            methods,
            lower_methods: lower,
            lower_write: (*lower).xWrite,
            db,
            frames: FrameTracker::default(),
        }));
        (*file).pMethods = block.cast();
        rc
    }
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as `close`, for a block made by `open_wal`.
    unsafe {
        let block = Box::from_raw((*file).pMethods.cast::<WalBlock>().cast_mut());
        (*file).pMethods = block.lower_methods;
        (*block.lower_methods).xClose.map_or(ffi::SQLITE_OK, |f| f(file))
    }
}

unsafe extern "C" fn wal_write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes a buffer of `amt` bytes; pMethods is the WalBlock `open_wal` made.
    unsafe {
        let block = &mut *(*file).pMethods.cast::<WalBlock>().cast_mut();
        if let Some(f) = block.lower_write
            && block.frames.routine(offset, slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize))
        {
            return f(file, buf, amt, offset); // the hot path: every append of a routine frame
        }
        wal_write_any(block, file, buf, amt, offset)
    }
}

/// Every WAL write that is not a routine append.
///
/// # Safety
/// As [`wal_write`]; `block` is `file`'s WalBlock.
#[inline(never)]
unsafe fn wal_write_any(block: &mut WalBlock, file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    // SAFETY: as the caller vouches.
    unsafe {
        let Some(f) = block.lower_write else { return ffi::SQLITE_IOERR_WRITE };
        let data = slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize);
        match block.frames.observe(offset, data) {
            Probe::Nothing => f(file, buf, amt, offset),
            probe => match check_wal_write(block, file, offset, data, probe) {
                Ok(()) => f(file, buf, amt, offset),
                Err(rc) => rc,
            },
        }
    }
}

/// A WAL write that puts a page's byte 19: find the page, and check it if it is page 1.
///
/// # Safety
/// `block` is `file`'s WalBlock; `data` is the write at `offset`.
#[inline(never)]
unsafe fn check_wal_write(
    block: &mut WalBlock,
    file: *mut ffi::sqlite3_file,
    offset: i64,
    data: &[u8],
    mut probe: Probe,
) -> Result<(), c_int> {
    // SAFETY: reads of the WAL file through its own lower methods, into local buffers.
    let read = |at: i64, buf: &mut [u8]| -> Result<(), c_int> {
        let read = unsafe { (*block.lower_methods).xRead }.ok_or(ffi::SQLITE_IOERR_READ)?;
        match unsafe { read(file, buf.as_mut_ptr().cast(), buf.len() as c_int, at) } {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(rc),
        }
    };
    if probe == Probe::NeedPageSize {
        let mut header = [0u8; WAL_HEADER_LEN as usize];
        read(0, &mut header)?;
        if !block.frames.learn(&header) {
            // No valid WAL header on disk: SQLite's recovery would ignore every frame.
            return Ok(());
        }
        probe = block.frames.observe(offset, data);
    }
    let written = probe.page1_byte(|frame| {
        let mut page_number = [0u8; 4];
        read(frame, &mut page_number).map(|()| u32::from_be_bytes(page_number))
    })?;
    // SAFETY: the database's guard outlives its WAL file; SQLite serialises a connection's
    // calls on its database and WAL files.
    written.map_or(Ok(()), |byte| unsafe { (*block.db).check_wal_page1(byte) })
}
