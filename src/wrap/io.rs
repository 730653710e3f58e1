//! The io methods of a wrapped file: the one home of walguard's `extern "C"` io methods.
//!
//! A wrapped file's table is a copy of the lower table with only the methods its hooks
//! override replaced ([`Hooked`]), plus `xClose`, which drops the hooks: every other method is
//! the lower function itself, called on the same `sqlite3_file` at no cost. The replaced
//! methods are trampolines, generic over the hooks ([`FileHooks`]) and over where the wrapper
//! lives ([`Place`]); each finds the [`Wrapped`] struct, hands the hooks safe values (a slice
//! for a buffer, a [`Control`] for a file-control, the [`LowerFile`]), and turns their answer
//! into SQLite's return code: a call the hooks let through is made to the lower method with
//! SQLite's own arguments, as a tail call.
//!
//! Two places:
//! - [`Tail`]: a file opened through the wrapping VFS; the lower VFS opened its file at the
//!   start of SQLite's allocation, and the [`Wrapped`] struct follows it (`tail.rs`), found from
//!   the file pointer. A layer above that copies the table (PROJ does) still reaches it.
//! - [`Adopted`]: a file opened before the wrapper existed, with no room after it; its
//!   `pMethods` is pointed at a boxed [`Wrapped`] whose first field is the table, found again
//!   from `pMethods`, and checked to name the file (only an open file's `xOpen` and `xClose` and
//!   an adoption set a file's table); closing puts the lower table back.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::{ptr, slice};

use libsqlite3_sys as ffi;

use super::lower::{LowerFile, WalIndex};
use super::tail;
use crate::host;

/// What a wrapper adds to the io methods of one file. The default of every hook lets the call
/// through; only the methods [`FileHooks::hooked`] names are replaced at all.
pub trait FileHooks: Sized {
    /// Which methods to replace, given the lower table (`xClose` always is).
    fn hooked(&self, lower: &ffi::sqlite3_io_methods) -> Hooked;

    /// `xWrite` of `data` at `offset`: `Ok` writes it through the lower file, `Err(rc)` fails
    /// the write with `rc`.
    fn write(&mut self, _lower: &LowerFile, _data: &[u8], _offset: i64) -> Result<(), c_int> {
        Ok(())
    }

    /// `xUnlock` to `level`, before the lower one.
    fn unlock(&mut self, _level: c_int) {}

    /// `xFileControl`.
    fn file_control(&mut self, _lower: &LowerFile, _control: Control<'_>) -> Answer {
        Answer::Forward
    }

    /// `xShmLock`: the hook takes the lock through `lower` (and may release it again), with the
    /// wal-index as mapped now.
    fn shm_lock(&mut self, lower: &LowerFile, _wal_index: &WalIndex, offset: c_int, n: c_int, flags: c_int) -> c_int {
        lower.shm_lock(offset, n, flags)
    }
}

/// The methods a file's hooks replace.
#[derive(Clone, Copy, Default)]
pub struct Hooked {
    pub write: bool,
    pub unlock: bool,
    pub file_control: bool,
    /// `xShmLock`, with `xShmMap` and `xShmUnmap` to record region 0 of the wal-index.
    pub shm: bool,
}

/// A file-control, told apart once, its argument as a safe value.
pub enum Control<'a> {
    /// `SQLITE_FCNTL_PRAGMA`, sent while a pragma is prepared.
    Pragma(Pragma<'a>),
    /// `SQLITE_FCNTL_VFSNAME`: the answer is the name of the VFS stack.
    VfsName(VfsName<'a>),
    /// `SQLITE_FCNTL_PDB`: the btree's connection slot, as sent with the file-control.
    ConnectionSlot(ConnectionSlot),
    /// Any other, by its op: forwarded with its argument when the hooks answer
    /// [`Answer::Forward`].
    Other(c_int),
}

/// What the hooks make of a file-control.
pub enum Answer {
    /// To the lower file, as it came.
    Forward,
    /// Answered with this code, not forwarded.
    Code(c_int),
}

/// The out-parameter of `SQLITE_FCNTL_VFSNAME`.
pub struct VfsName<'a> {
    out: &'a mut *mut c_char,
}

impl VfsName<'_> {
    /// Answer with `name`, in memory SQLite frees (`SQLITE_NOMEM` when it cannot be allocated).
    pub fn answer(self, name: &str) -> Answer {
        // SAFETY: plain allocation through the extension API.
        *self.out = unsafe { host::sqlite_string(name) };
        Answer::Code(if self.out.is_null() { ffi::SQLITE_NOMEM } else { ffi::SQLITE_OK })
    }
}

/// The `char*[3]` of `SQLITE_FCNTL_PRAGMA`: the pragma's name, its value, the answer's slot.
pub struct Pragma<'a> {
    az: &'a mut [*mut c_char; 3],
}

impl Pragma<'_> {
    /// The pragma's name, as written (without a schema prefix).
    pub fn name(&self) -> &[u8] {
        // SAFETY: az[1] is the pragma's NUL-terminated name (SQLite's, checked non-null by
        // `Control::of`), valid during the file-control.
        unsafe { CStr::from_ptr(self.az[1]) }.to_bytes()
    }

    /// Its value, `None` for a query.
    pub fn value(&self) -> Option<&[u8]> {
        // SAFETY: az[2] is null or the NUL-terminated value, as above.
        unsafe { host::bytes(self.az[2]) }
    }

    /// Answer with `code` and `text`: a row for `SQLITE_OK`, the error message otherwise. Out
    /// of memory, the answer is `SQLITE_NOMEM` (without its text, an answer would be an empty
    /// row or a bare "SQL logic error").
    pub fn answer(self, code: c_int, text: &str) -> Answer {
        // SAFETY: az[0] is SQLite's out slot, which it frees with sqlite3_free.
        self.az[0] = unsafe { host::sqlite_string(text) };
        Answer::Code(if self.az[0].is_null() { ffi::SQLITE_NOMEM } else { code })
    }
}

/// `SQLITE_FCNTL_PDB`'s argument: where the btree keeps the connection using the file. Made
/// only from that file-control's argument (`Control::of`).
#[derive(Clone, Copy)]
pub struct ConnectionSlot(*const *mut ffi::sqlite3);

impl ConnectionSlot {
    /// The connection the slot points at now (null between statements).
    ///
    /// # Safety
    /// The slot is SQLite's (the file-control came from `sqlite3BtreeOpen`, not from an
    /// application's `sqlite3_file_control`) and the btree that holds it is open: it lives as
    /// long as the file, whose pager the btree owns.
    pub unsafe fn connection(&self) -> *mut ffi::sqlite3 {
        // SAFETY: as the caller vouches.
        unsafe { *self.0 }
    }
}

impl Control<'_> {
    /// # Safety
    /// `arg` is what SQLite documents for `op` (or null, from an application's own call).
    #[inline(always)]
    unsafe fn of<'a>(op: c_int, arg: *mut c_void) -> Control<'a> {
        match op {
            ffi::SQLITE_FCNTL_PRAGMA if !arg.is_null() => {
                // SAFETY: the char*[3] of the pragma file-control, live and SQLite's alone during
                // the call.
                let az: &'a mut [*mut c_char; 3] = unsafe { &mut *arg.cast() };
                if az[1].is_null() { Control::Other(op) } else { Control::Pragma(Pragma { az }) }
            }
            // SAFETY: VFSNAME's char**, live during the call.
            ffi::SQLITE_FCNTL_VFSNAME if !arg.is_null() => Control::VfsName(VfsName { out: unsafe { &mut *arg.cast() } }),
            ffi::SQLITE_FCNTL_PDB if !arg.is_null() => Control::ConnectionSlot(ConnectionSlot(arg.cast_const().cast())),
            _ => Control::Other(op),
        }
    }
}

/// What every wrapped file has, whatever its hooks: its table (first: an adopted file's
/// `pMethods` points here), the file it belongs to, the lower file, the wal-index mapping, and
/// how to free the whole [`Wrapped`] struct at the close. `xClose` needs nothing else, so it is
/// one plain function per place ([`close_tail`], [`close_adopted`]), whose address tells a
/// wrapped file from any other ([`is_wrapped`]).
#[repr(C)]
struct Header {
    methods: ffi::sqlite3_io_methods,
    file: *mut ffi::sqlite3_file,
    lower: LowerFile,
    wal_index: WalIndex,
    /// Drops (in place) or frees (boxed) the `Wrapped<H>` this header begins.
    release: unsafe fn(*mut Header),
}

/// A wrapped file: the [`Header`], then the hooks.
#[repr(C)]
pub struct Wrapped<H> {
    header: Header,
    hooks: H,
}

/// The bytes a [`Tail`] placement of hooks `H` takes after the lower file.
pub const fn room_for<H>() -> (usize, usize) {
    (size_of::<Wrapped<H>>(), align_of::<Wrapped<H>>())
}

/// The io-methods versions whose every field the wrapper's table carries: a newer table would
/// have fields past the end of ours.
pub const KNOWN_VERSIONS: std::ops::RangeInclusive<c_int> = 1..=3;

/// Why a file was not wrapped; it stays the lower VFS's alone.
pub enum NotWrapped {
    /// Its io methods have a version the wrapper does not know.
    UnknownVersion(c_int),
    /// Already wrapped by these hooks.
    AlreadyWrapped,
}

/// Where a file's [`Wrapped`] struct lives, and how it is found.
trait Place {
    /// The `xClose` this place installs (one of [`closes`]).
    fn close() -> Close;

    /// # Safety
    /// `file` is open with a table this place installed (for any hooks), or, for an adopted
    /// file, closed by SQLite (which clears its table).
    unsafe fn header(file: *mut ffi::sqlite3_file) -> Option<*mut Header>;

    /// # Safety
    /// As [`Place::header`], with a table installed for `H`.
    #[inline(always)]
    unsafe fn find<H>(file: *mut ffi::sqlite3_file) -> Option<*mut Wrapped<H>> {
        // SAFETY: as the caller vouches; the header begins the Wrapped<H> (repr(C)).
        unsafe { Self::header(file).map(|header| header.cast()) }
    }
}

/// After the lower file, in SQLite's allocation (see the module's manual).
enum Tail {}
/// Boxed, and the file's `pMethods` (see the module's manual).
enum Adopted {}

impl Place for Tail {
    fn close() -> Close {
        closes().0
    }

    #[inline(always)]
    unsafe fn header(file: *mut ffi::sqlite3_file) -> Option<*mut Header> {
        // SAFETY: the caller vouches that `file` was wrapped in place, so its tail holds one.
        Some(unsafe { tail::tail::<Header>(file) })
    }
}

impl Place for Adopted {
    fn close() -> Close {
        closes().1
    }

    #[inline(always)]
    unsafe fn header(file: *mut ffi::sqlite3_file) -> Option<*mut Header> {
        // SAFETY: the caller vouches that pMethods is the Wrapped `adopt` boxed (repr(C), its
        // table first), or null once SQLite closed the file.
        unsafe {
            let header = (*file).pMethods.cast_mut().cast::<Header>();
            (!header.is_null() && (*header).file == file).then_some(header)
        }
    }
}

type Close = unsafe extern "C" fn(*mut ffi::sqlite3_file) -> c_int;

/// The `xClose` of each place, as function pointers made once: what [`is_wrapped`] compares a
/// table's `xClose` with is the very value installed. (Two pointers made from one function at
/// two places in the code need not be equal: a function may be copied into several codegen
/// units, and Miri gives such copies distinct addresses.)
fn closes() -> (Close, Close) {
    static CLOSES: std::sync::OnceLock<(Close, Close)> = std::sync::OnceLock::new();
    *CLOSES.get_or_init(|| (close_tail, close_adopted))
}

/// Drop a `Wrapped<H>` written in a file's tail; the memory is SQLite's.
///
/// # Safety
/// `header` begins a `Wrapped<H>` written by `wrap_in_place`, dropped once.
unsafe fn drop_in_tail<H>(header: *mut Header) {
    // SAFETY: as the caller vouches.
    unsafe { ptr::drop_in_place(header.cast::<Wrapped<H>>()) }
}

/// Free a `Wrapped<H>` boxed by `adopt`.
///
/// # Safety
/// `header` begins a `Wrapped<H>` boxed by `adopt`, freed once.
unsafe fn free_boxed<H>(header: *mut Header) {
    // SAFETY: as the caller vouches.
    drop(unsafe { Box::from_raw(header.cast::<Wrapped<H>>()) })
}

/// The wrapper's table over `lower` for `hooks` placed at `P`.
fn table<H: FileHooks, P: Place>(lower: &ffi::sqlite3_io_methods, hooks: &H) -> ffi::sqlite3_io_methods {
    let hooked = hooks.hooked(lower);
    let mut table = ffi::sqlite3_io_methods { xClose: Some(P::close()), ..*lower };
    if hooked.write {
        table.xWrite = lower.xWrite.and(Some(write::<H, P>));
    }
    if hooked.unlock {
        table.xUnlock = lower.xUnlock.and(Some(unlock::<H, P>));
    }
    if hooked.file_control {
        table.xFileControl = Some(file_control::<H, P>);
    }
    if hooked.shm && lower.iVersion >= 2 && lower.xShmLock.is_some() && lower.xShmMap.is_some() && lower.xShmUnmap.is_some() {
        table.xShmLock = Some(shm_lock::<H, P>);
        table.xShmMap = Some(shm_map::<H, P>);
        table.xShmUnmap = Some(shm_unmap::<H, P>);
    }
    table
}

/// Wrap a file the wrapping VFS just opened, in its tail.
///
/// # Safety
/// `file` was opened by the lower VFS (with `lower`) into an allocation of the wrapping VFS's
/// `szOsFile` bytes, whose tail is unused, and `room_for::<H>()` fits the tail (`tail.rs`).
pub(super) unsafe fn wrap_in_place<H: FileHooks>(file: *mut ffi::sqlite3_file, lower: LowerFile, hooks: H) -> *mut H {
    let methods = table::<H, Tail>(lower.methods(), &hooks);
    // SAFETY: as the caller vouches; SQLite reads pMethods only after xOpen returns, when it
    // points at the table inside the tail, which lives until xClose.
    unsafe {
        let wrapped = tail::tail::<Wrapped<H>>(file);
        let header = Header { methods, file, lower, wal_index: WalIndex::UNMAPPED, release: drop_in_tail::<H> };
        ptr::write(wrapped, Wrapped { header, hooks });
        (*file).pMethods = &raw const (*wrapped).header.methods;
        &raw mut (*wrapped).hooks
    }
}

/// Wrap a file that is open already, from now on.
///
/// # Safety
/// `file` is open, and no call on it is in progress or starts before this returns (the
/// caller holds its connection's mutex); nothing but its `xClose` sets its table afterwards.
pub unsafe fn adopt<H: FileHooks>(file: *mut ffi::sqlite3_file, hooks: impl FnOnce(LowerFile) -> H) -> Result<(), NotWrapped> {
    // SAFETY: an open file's table is valid while it is open.
    let lower_table = unsafe { (*file).pMethods };
    // SAFETY: as the caller vouches.
    if unsafe { is_wrapped(file) } {
        return Err(NotWrapped::AlreadyWrapped);
    }
    // SAFETY: the file's valid table (above).
    let version = unsafe { (*lower_table).iVersion };
    if !KNOWN_VERSIONS.contains(&version) {
        return Err(NotWrapped::UnknownVersion(version));
    }
    // SAFETY: open with that table, until its xClose, which the wrapper intercepts.
    let lower = unsafe { LowerFile::new(file, lower_table) };
    let hooks = hooks(lower);
    let methods = table::<H, Adopted>(lower.methods(), &hooks);
    let header = Header { methods, file, lower, wal_index: WalIndex::UNMAPPED, release: free_boxed::<H> };
    let wrapped = Box::into_raw(Box::new(Wrapped { header, hooks }));
    // SAFETY: nothing uses the table while it is swapped (the caller's contract); the box,
    // whose first field is the table, lives until `close` reclaims it.
    unsafe { (*file).pMethods = wrapped.cast_const().cast() };
    Ok(())
}

/// Is `file` wrapped by this layer, in either place? Told by the `xClose` installed, compared
/// with the values [`closes`] installs.
///
/// # Safety
/// `file` is open.
pub unsafe fn is_wrapped(file: *mut ffi::sqlite3_file) -> bool {
    // SAFETY: an open file has a valid table.
    let installed = unsafe { (*(*file).pMethods).xClose };
    let (tail, adopted) = closes();
    installed.is_some_and(|f| ptr::fn_addr_eq(f, tail) || ptr::fn_addr_eq(f, adopted))
}

/// The hooks of a file wrapped with `H`, in any place: `None` for a file this layer did not wrap.
///
/// # Safety
/// `file` is open, no other call on it is in progress, and if this layer wrapped it, it was with `H`.
#[cfg(test)]
pub unsafe fn hooks_of<'a, H: FileHooks>(file: *mut ffi::sqlite3_file) -> Option<&'a mut H> {
    // SAFETY: as the caller vouches; the place is told by the installed xClose.
    unsafe {
        let installed = (*(*file).pMethods).xClose?;
        let (tail, adopted) = closes();
        let wrapped = if ptr::fn_addr_eq(installed, tail) {
            Tail::find::<H>(file)
        } else if ptr::fn_addr_eq(installed, adopted) {
            Adopted::find::<H>(file)
        } else {
            None
        }?;
        Some(&mut (*wrapped).hooks)
    }
}

// The trampolines. Each is installed only over a lower method that exists (`table`), so the
// `else` arms are unreachable in practice: they answer an error rather than panic across the
// FFI boundary. `find` fails only for a file SQLite has closed already (a misuse).
// SAFETY, for each: SQLite calls a method of a table the wrapper installed, with the file it
// belongs to and the method's documented arguments; SQLite serialises the calls on one file,
// so the `&mut` to its hooks is the only one while the call runs; the header is only read
// (but for the wal-index's mapping, set by `xShmMap` and `xShmUnmap`, apart from other borrows),
// and never borrowed as a whole mutably: SQLite reads the table in it.

unsafe extern "C" fn close_tail(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: see above; installed by `wrap_in_place` only.
    unsafe { close::<Tail>(file) }
}

unsafe extern "C" fn close_adopted(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: see above; installed by `adopt` only.
    unsafe { close::<Adopted>(file) }
}

/// # Safety
/// `file` is being closed by SQLite, through the table `P` installed.
unsafe fn close<P: Place>(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; the wrapper is released after the lower table is
    // back in place and the lower file closed.
    unsafe {
        let Some(header) = P::header(file) else { return ffi::SQLITE_MISUSE };
        let lower = (*header).lower;
        (*file).pMethods = lower.table();
        let rc = lower.methods().xClose.map_or(ffi::SQLITE_OK, |f| f(file));
        ((*header).release)(header);
        rc
    }
}

unsafe extern "C" fn write<H: FileHooks, P: Place>(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: see above; SQLite's buffer holds `amt` bytes.
    unsafe {
        let Some(w) = P::find::<H>(file) else { return ffi::SQLITE_MISUSE };
        let (header, hooks) = (&(*w).header, &mut (*w).hooks);
        let Some(lower_write) = header.lower.methods().xWrite else { return ffi::SQLITE_IOERR_WRITE };
        match hooks.write(&header.lower, slice::from_raw_parts(buf.cast::<u8>(), usize::try_from(amt).unwrap_or(0)), offset) {
            Ok(()) => lower_write(file, buf, amt, offset),
            Err(rc) => rc,
        }
    }
}

unsafe extern "C" fn unlock<H: FileHooks, P: Place>(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: see above.
    unsafe {
        let Some(w) = P::find::<H>(file) else { return ffi::SQLITE_MISUSE };
        let (header, hooks) = (&(*w).header, &mut (*w).hooks);
        hooks.unlock(level);
        let Some(lower_unlock) = header.lower.methods().xUnlock else { return ffi::SQLITE_IOERR_UNLOCK };
        lower_unlock(file, level)
    }
}

unsafe extern "C" fn file_control<H: FileHooks, P: Place>(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: see above; `arg` is what SQLite documents for `op`.
    unsafe {
        let Some(w) = P::find::<H>(file) else { return ffi::SQLITE_MISUSE };
        let (header, hooks) = (&(*w).header, &mut (*w).hooks);
        match hooks.file_control(&header.lower, Control::of(op, arg)) {
            Answer::Forward => header.lower.file_control(op, arg),
            Answer::Code(rc) => rc,
        }
    }
}

unsafe extern "C" fn shm_lock<H: FileHooks, P: Place>(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: see above.
    unsafe {
        let Some(w) = P::find::<H>(file) else { return ffi::SQLITE_MISUSE };
        let (header, hooks) = (&(*w).header, &mut (*w).hooks);
        hooks.shm_lock(&header.lower, &header.wal_index, offset, n, flags)
    }
}

unsafe extern "C" fn shm_map<H: FileHooks, P: Place>(
    file: *mut ffi::sqlite3_file,
    index: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: see above; `out` is SQLite's out-parameter.
    unsafe {
        let Some(w) = P::find::<H>(file) else { return ffi::SQLITE_MISUSE };
        let header = &(*w).header;
        let Some(lower_map) = header.lower.methods().xShmMap else { return ffi::SQLITE_IOERR_SHMMAP };
        let rc = lower_map(file, index, size, extend, out);
        // SQLITE_READONLY: a read-only mapping, still the wal-index SQLite reads.
        if index == 0 && (rc == ffi::SQLITE_OK || rc == ffi::SQLITE_READONLY) && !(*out).is_null() {
            (*w).header.wal_index.set((*out).cast_const().cast());
        }
        rc
    }
}

unsafe extern "C" fn shm_unmap<H: FileHooks, P: Place>(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: see above; the mapping is forgotten before the lower file unmaps it.
    unsafe {
        let Some(w) = P::find::<H>(file) else { return ffi::SQLITE_MISUSE };
        let header = &(*w).header;
        let lower_unmap = header.lower.methods().xShmUnmap;
        (*w).header.wal_index.set(ptr::null());
        let Some(lower_unmap) = lower_unmap else { return ffi::SQLITE_OK };
        lower_unmap(file, delete)
    }
}
