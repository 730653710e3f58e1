//! What the unit tests put where SQLite would be, so that they run without it, and under Miri
//! (`make miri`), which checks walguard's pointer work on them: its struct after the lower
//! file, the tables it swaps in, the names and buffers it reads.
//!
//! - the host's API table, with only what walguard calls on the paths the tests take
//!   (`sqlite3_malloc`/`free`, `sqlite3_uri_parameter`/`uri_boolean`, as SQLite implements
//!   them; `sqlite3_log` is variadic, so `host::log` keeps the lines here instead: [`take_log`]);
//! - an in-memory lower VFS ([`lower_vfs`]) whose files take a size that is not a multiple of
//!   8, so walguard's struct is placed after padding, and with a wal-index (`xShmMap`);
//! - the walguard VFS over it ([`walguard_vfs`]), files opened in memory allocated as SQLite
//!   allocates it ([`Open`]), and file names laid out as SQLite lays them out ([`Names`]).

use std::alloc::{Layout, alloc, alloc_zeroed, dealloc};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::{ptr, slice};

use libsqlite3_sys as ffi;
use walguard_core::header::MAGIC;
use walguard_core::shim::SQLITE_ALIGNMENT;

use crate::vfs::{self, Walguard};
use crate::wrap::vfs::Registered;

/// Install the host API table (once per process).
pub fn host() {
    static API: OnceLock<Box<ffi::sqlite3_api_routines>> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: every field of the table is an optional function pointer, for which zero is None.
        let mut api: ffi::sqlite3_api_routines = unsafe { std::mem::zeroed() };
        api.malloc = Some(malloc);
        api.free = Some(free);
        api.libversion_number = Some(libversion_number);
        api.uri_parameter = Some(uri_parameter);
        api.uri_boolean = Some(uri_boolean);
        let mut api = Box::new(api);
        // SAFETY: the table lives for the process (in the static); its functions are below.
        unsafe { ffi::rusqlite_extension_init2(&mut *api) }.expect("the host's version is the bindings'");
        api
    });
}

/// `sqlite3_malloc`: 8-byte aligned and uninitialised (Miri reports a read before a write),
/// its size kept before it, as SQLite's allocator does.
unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
    let Ok(n) = usize::try_from(n) else { return ptr::null_mut() };
    let layout = Layout::from_size_align(n + 8, SQLITE_ALIGNMENT).unwrap();
    // SAFETY: a non-zero size; the size goes in the first 8 bytes, the caller gets the rest.
    unsafe {
        let p = alloc(layout);
        if p.is_null() {
            return ptr::null_mut();
        }
        p.cast::<usize>().write(n);
        p.add(8).cast()
    }
}

unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: `p` came from `malloc`, its size 8 bytes before it.
    unsafe {
        let base = p.cast::<u8>().sub(8);
        let n = base.cast::<usize>().read();
        dealloc(base, Layout::from_size_align(n + 8, SQLITE_ALIGNMENT).unwrap());
    }
}

/// Debian 12's SQLite, 3.40.1: a host with every file-control walguard watches
/// (`make test-versions` runs the older hosts' paths in real ones).
unsafe extern "C" fn libversion_number() -> c_int {
    3_040_001
}

/// `sqlite3_uri_parameter` as SQLite 3.40 implements it: back from any of a database's names
/// to the four zero bytes before its main name (`databaseName`), then through the
/// `key\0value\0` pairs after it. Miri reports a name that is not laid out so.
unsafe extern "C" fn uri_parameter(name: *const c_char, param: *const c_char) -> *const c_char {
    if name.is_null() || param.is_null() {
        return ptr::null();
    }
    // SAFETY: SQLite's contract: `name` is one of the names of a database's allocation.
    unsafe {
        let mut z = name;
        while *z.sub(1) != 0 || *z.sub(2) != 0 || *z.sub(3) != 0 || *z.sub(4) != 0 {
            z = z.sub(1);
        }
        let param = CStr::from_ptr(param);
        z = z.add(CStr::from_ptr(z).count_bytes() + 1);
        while *z != 0 {
            let key = CStr::from_ptr(z);
            z = z.add(key.count_bytes() + 1);
            if key == param {
                return z;
            }
            z = z.add(CStr::from_ptr(z).count_bytes() + 1);
        }
        ptr::null()
    }
}

unsafe extern "C" fn uri_boolean(name: *const c_char, param: *const c_char, default: c_int) -> c_int {
    // SAFETY: as `uri_parameter`; its answer is null or a string in the same allocation.
    let value = unsafe { crate::host::bytes(uri_parameter(name, param)) };
    match value.map(<[u8]>::to_ascii_lowercase).as_deref() {
        Some(b"1" | b"yes" | b"true" | b"on") => 1,
        Some(b"0" | b"no" | b"false" | b"off") => 0,
        _ => c_int::from(default != 0),
    }
}

thread_local! {
    static LOG: RefCell<Vec<(c_int, String)>> = const { RefCell::new(Vec::new()) };
}

/// `host::log` in the tests: the line (NUL-terminated, as SQLite would get it) is kept for
/// the test's thread.
pub fn log(code: c_int, line: &[u8]) {
    let text = CStr::from_bytes_with_nul(line).expect("one NUL, at the end").to_string_lossy().into_owned();
    LOG.with_borrow_mut(|log| log.push((code, text)));
}

/// The lines this thread logged since the last call.
pub fn take_log() -> Vec<(c_int, String)> {
    LOG.with_borrow_mut(std::mem::take)
}

/// A string walguard allocated with `sqlite3_malloc`, read and freed as SQLite would.
///
/// # Safety
/// `s` is null or a NUL-terminated string from `sqlite3_malloc`, not used afterwards.
pub unsafe fn take_sqlite_string(s: *mut c_char) -> Option<String> {
    // SAFETY: as the caller vouches.
    unsafe {
        let text = crate::host::bytes(s).map(|b| String::from_utf8_lossy(b).into_owned());
        ffi::sqlite3_free(s.cast());
        text
    }
}

/// Memory SQLite hands to `xOpen`: exactly `size` bytes, zeroed (`sqlite3MallocZero`), aligned
/// to 8 and no more (Miri's `-Zmiri-symbolic-alignment-check` holds accesses to that).
pub struct Allocation {
    pub ptr: *mut u8,
    pub layout: Layout,
}

impl Allocation {
    pub fn new(size: c_int) -> Allocation {
        let layout = Layout::from_size_align(usize::try_from(size).unwrap(), SQLITE_ALIGNMENT).unwrap();
        // SAFETY: every szOsFile is more than zero bytes.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Allocation { ptr, layout }
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

/// A database's names as `sqlite3PagerOpen` lays them out, in one allocation: a pointer, four
/// zero bytes, the path, its URI parameters (`key\0value\0`..., then an empty string), the
/// journal's name, the WAL's name, and terminators. SQLite passes pointers into it to `xOpen`.
pub struct Names {
    bytes: Box<[u8]>,
    journal: usize,
    wal: usize,
}

impl Names {
    pub fn new(path: &str, params: &[(&str, &str)]) -> Names {
        let mut bytes = vec![0xa5; 8];
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(path.as_bytes());
        bytes.push(0);
        for (key, value) in params {
            bytes.extend_from_slice(key.as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(0);
        }
        bytes.push(0);
        let journal = bytes.len();
        bytes.extend_from_slice(format!("{path}-journal\0").as_bytes());
        let wal = bytes.len();
        bytes.extend_from_slice(format!("{path}-wal\0").as_bytes());
        bytes.extend_from_slice(&[0; 3]);
        Names { bytes: bytes.into_boxed_slice(), journal, wal }
    }

    /// A pointer into the whole allocation, as SQLite's are (a reference to the tail of the
    /// slice would not let `sqlite3_uri_parameter` look back for the prefix).
    fn at(&self, offset: usize) -> *const c_char {
        assert!(offset < self.bytes.len());
        // SAFETY: in bounds.
        unsafe { self.bytes.as_ptr().add(offset).cast() }
    }

    pub fn db(&self) -> *const c_char {
        self.at(12)
    }

    pub fn journal(&self) -> *const c_char {
        self.at(self.journal)
    }

    pub fn wal(&self) -> *const c_char {
        self.at(self.wal)
    }
}

/// A file opened through the walguard VFS, in memory allocated as SQLite allocates it.
pub struct Open {
    pub memory: Allocation,
    pub rc: c_int,
}

impl Open {
    /// `xOpen` of the walguard VFS.
    ///
    /// # Safety
    /// `name` is null or a name as SQLite passes it for `flags`, valid until the file is closed.
    pub unsafe fn new(name: *const c_char, flags: c_int) -> Open {
        let vfs = walguard_vfs();
        // SAFETY: as SQLite calls it: the VFS, a name, szOsFile bytes, flags, an out flag.
        unsafe {
            let memory = Allocation::new((*vfs).szOsFile);
            let mut out_flags = 0;
            let rc = (*vfs).xOpen.unwrap()(vfs, name, memory.ptr.cast(), flags, &mut out_flags);
            Open { memory, rc }
        }
    }

    pub fn file(&self) -> *mut ffi::sqlite3_file {
        self.memory.ptr.cast()
    }

    pub fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: an open file has a table, which lives as long as the file.
        unsafe { &*(*self.file()).pMethods }
    }

    pub fn write(&self, offset: i64, data: &[u8]) -> c_int {
        // SAFETY: a write of `data` to the open file.
        unsafe { self.methods().xWrite.unwrap()(self.file(), data.as_ptr().cast(), c_int::try_from(data.len()).unwrap(), offset) }
    }

    pub fn read(&self, offset: i64, len: usize) -> (c_int, Vec<u8>) {
        let mut data = vec![0; len];
        // SAFETY: a read into `data` from the open file.
        let rc = unsafe { self.methods().xRead.unwrap()(self.file(), data.as_mut_ptr().cast(), c_int::try_from(len).unwrap(), offset) };
        (rc, data)
    }

    pub fn unlock(&self, level: c_int) -> c_int {
        // SAFETY: an unlock of the open file.
        unsafe { self.methods().xUnlock.unwrap()(self.file(), level) }
    }

    /// # Safety
    /// `arg` is what `op` expects.
    pub unsafe fn file_control(&self, op: c_int, arg: *mut c_void) -> c_int {
        // SAFETY: as the caller vouches.
        unsafe { self.methods().xFileControl.unwrap()(self.file(), op, arg) }
    }

    /// `PRAGMA <name>[=<value>]` as SQLite sends it to the file while preparing it: the
    /// answer code and the string walguard put in the first slot.
    pub fn pragma(&self, name: &CStr, value: Option<&CStr>) -> (c_int, Option<String>) {
        let mut az: [*mut c_char; 3] =
            [ptr::null_mut(), name.as_ptr().cast_mut(), value.map_or(ptr::null_mut(), |v| v.as_ptr().cast_mut())];
        // SAFETY: the `char*[3]` of SQLITE_FCNTL_PRAGMA; the answer is SQLite's to free.
        unsafe {
            let rc = self.file_control(ffi::SQLITE_FCNTL_PRAGMA, az.as_mut_ptr().cast());
            (rc, take_sqlite_string(az[0]))
        }
    }

    pub fn close(self) -> c_int {
        // SAFETY: closing the open file once; the memory is freed after it.
        unsafe { self.methods().xClose.unwrap()(self.file()) }
    }
}

/// A VFS that lives for the process, kept as a pointer (not an address) so that Miri sees it
/// is reachable.
struct Leaked(*mut ffi::sqlite3_vfs);
// SAFETY: the VFSes are built once and only read afterwards, as SQLite's registered ones.
unsafe impl Send for Leaked {}
// SAFETY: as above.
unsafe impl Sync for Leaked {}

/// The walguard VFS over [`lower_vfs`], built once: the offset of walguard's struct is one per
/// process, as in the extension (one lower VFS).
pub fn walguard_vfs() -> *mut ffi::sqlite3_vfs {
    static VFS: OnceLock<Leaked> = OnceLock::new();
    // SAFETY: the lower VFS lives for the process, as a registered one does.
    let lower = unsafe { Registered::from_raw(lower_vfs()) };
    VFS.get_or_init(|| Leaked(Box::leak(Box::new(lower.wrapper::<Walguard>(Some(vfs::NAME)).unwrap())))).0
}

/// The contents of one file of the in-memory VFS, shared by its open handles.
type Contents = Arc<Mutex<Vec<u8>>>;

/// The files of the in-memory VFS, by name.
static FILES: LazyLock<Mutex<HashMap<Vec<u8>, Contents>>> = LazyLock::new(Mutex::default);

/// Put `data` in the file `name` of the in-memory VFS.
pub fn set_file(name: &CStr, data: &[u8]) {
    FILES.lock().unwrap().insert(name.to_bytes().to_vec(), Arc::new(Mutex::new(data.to_vec())));
}

/// The contents of the file `name`, if it exists.
pub fn file_contents(name: &CStr) -> Option<Vec<u8>> {
    FILES.lock().unwrap().get(name.to_bytes()).map(|data| data.lock().unwrap().clone())
}

/// A file of the in-memory VFS, in the memory SQLite (or walguard) allocated for it.
#[repr(C)]
struct MemFile {
    base: ffi::sqlite3_file,
    data: Contents,
    /// Region 0 of the wal-index, 32 KiB, once mapped (a raw pointer: the region is handed out
    /// and must stay valid across later calls, as a mapping does).
    shm: *mut [u64; 4096],
}

impl MemFile {
    fn unmap(&mut self) {
        if !self.shm.is_null() {
            // SAFETY: boxed by `mem_shm_map`, freed once.
            drop(unsafe { Box::from_raw(self.shm) });
            self.shm = ptr::null_mut();
        }
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        self.unmap();
    }
}

/// The in-memory VFS's `szOsFile`: its struct and 4 bytes, so that it is not a multiple of 8.
const LOWER_OS_FILE: c_int = size_of::<MemFile>() as c_int + 4;

/// The in-memory VFS: files in [`FILES`], io methods of version 2 (a wal-index).
pub fn lower_vfs() -> *mut ffi::sqlite3_vfs {
    static VFS: OnceLock<Leaked> = OnceLock::new();
    host();
    VFS.get_or_init(|| {
        let vfs = ffi::sqlite3_vfs {
            iVersion: 1,
            szOsFile: LOWER_OS_FILE,
            mxPathname: 512,
            pNext: ptr::null_mut(),
            zName: c"mem".as_ptr(),
            pAppData: ptr::null_mut(),
            xOpen: Some(mem_open),
            xDelete: Some(mem_delete),
            xAccess: Some(mem_access),
            xFullPathname: None,
            xDlOpen: None,
            xDlError: None,
            xDlSym: None,
            xDlClose: None,
            xRandomness: None,
            xSleep: None,
            xCurrentTime: None,
            xGetLastError: None,
            xCurrentTimeInt64: None,
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        };
        Leaked(Box::leak(Box::new(vfs)))
    })
    .0
}

static MEM_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2,
    xClose: Some(mem_close),
    xRead: Some(mem_read),
    xWrite: Some(mem_write),
    xTruncate: Some(mem_truncate),
    xSync: Some(mem_sync),
    xFileSize: Some(mem_file_size),
    xLock: Some(mem_lock),
    xUnlock: Some(mem_lock),
    xCheckReservedLock: Some(mem_check_reserved_lock),
    xFileControl: Some(mem_file_control),
    xSectorSize: Some(mem_sector_size),
    xDeviceCharacteristics: Some(mem_device_characteristics),
    xShmMap: Some(mem_shm_map),
    xShmLock: Some(mem_shm_lock),
    xShmBarrier: Some(mem_shm_barrier),
    xShmUnmap: Some(mem_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

/// # Safety
/// `file` was opened by `mem_open` and is not closed.
unsafe fn mem_file<'a>(file: *mut ffi::sqlite3_file) -> &'a mut MemFile {
    // SAFETY: as the caller vouches; SQLite serialises calls on a file.
    unsafe { &mut *file.cast::<MemFile>() }
}

unsafe extern "C" fn mem_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite's xOpen arguments: `file` has szOsFile bytes, `name` is null or a string.
    unsafe {
        let data = match crate::host::bytes(name) {
            None => Arc::default(),
            Some(name) => {
                let mut files = FILES.lock().unwrap();
                match files.get(name) {
                    Some(data) => data.clone(),
                    None if flags & ffi::SQLITE_OPEN_CREATE != 0 => files.entry(name.to_vec()).or_default().clone(),
                    None => return ffi::SQLITE_CANTOPEN,
                }
            }
        };
        file.cast::<MemFile>().write(MemFile { base: ffi::sqlite3_file { pMethods: &MEM_METHODS }, data, shm: ptr::null_mut() });
        if !out_flags.is_null() {
            *out_flags = flags;
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_delete(_vfs: *mut ffi::sqlite3_vfs, name: *const c_char, _sync_dir: c_int) -> c_int {
    // SAFETY: SQLite passes a file name.
    let name = unsafe { CStr::from_ptr(name) };
    FILES.lock().unwrap().remove(name.to_bytes());
    ffi::SQLITE_OK
}

/// As the unix VFS: a file "exists" when it has bytes.
unsafe extern "C" fn mem_access(_vfs: *mut ffi::sqlite3_vfs, name: *const c_char, _flags: c_int, out: *mut c_int) -> c_int {
    // SAFETY: SQLite passes a file name and an out-parameter.
    unsafe {
        let name = CStr::from_ptr(name);
        *out = c_int::from(file_contents(name).is_some_and(|data| !data.is_empty()));
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file once; its struct is dropped in place, the memory is SQLite's.
    unsafe { ptr::drop_in_place(file.cast::<MemFile>()) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: i64) -> c_int {
    // SAFETY: an open file; SQLite's buffer holds `amt` bytes.
    unsafe {
        let buf = slice::from_raw_parts_mut(buf.cast::<u8>(), usize::try_from(amt).unwrap());
        let data = mem_file(file).data.lock().unwrap();
        let start = usize::try_from(offset).unwrap().min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        if n < buf.len() {
            buf[n..].fill(0);
            return ffi::SQLITE_IOERR_SHORT_READ;
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    // SAFETY: an open file; SQLite's buffer holds `amt` bytes.
    unsafe {
        let buf = slice::from_raw_parts(buf.cast::<u8>(), usize::try_from(amt).unwrap());
        let mut data = mem_file(file).data.lock().unwrap();
        let start = usize::try_from(offset).unwrap();
        if data.len() < start + buf.len() {
            data.resize(start + buf.len(), 0);
        }
        data[start..start + buf.len()].copy_from_slice(buf);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    // SAFETY: an open file.
    unsafe { mem_file(file).data.lock().unwrap().truncate(usize::try_from(size).unwrap()) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_sync(_file: *mut ffi::sqlite3_file, _flags: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    // SAFETY: an open file and an out-parameter.
    unsafe { *size = i64::try_from(mem_file(file).data.lock().unwrap().len()).unwrap() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_lock(_file: *mut ffi::sqlite3_file, _level: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_check_reserved_lock(_file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: an out-parameter.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

/// `SQLITE_FCNTL_VFSNAME` answers "mem" in memory from `sqlite3_malloc`, for the caller to free;
/// `SQLITE_FCNTL_HAS_MOVED` answers 0.
unsafe extern "C" fn mem_file_control(_file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    if op == ffi::SQLITE_FCNTL_HAS_MOVED {
        // SAFETY: HAS_MOVED's out-parameter, an int.
        unsafe { *arg.cast::<c_int>() = 0 };
        return ffi::SQLITE_OK;
    }
    if op != ffi::SQLITE_FCNTL_VFSNAME {
        return ffi::SQLITE_NOTFOUND;
    }
    // SAFETY: VFSNAME's out-parameter; 4 bytes from malloc for "mem" and its NUL.
    unsafe {
        let name = malloc(4).cast::<u8>();
        name.copy_from_nonoverlapping(c"mem".as_ptr().cast(), 4);
        *arg.cast::<*mut c_char>() = name.cast();
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_sector_size(_file: *mut ffi::sqlite3_file) -> c_int {
    512
}

unsafe extern "C" fn mem_device_characteristics(_file: *mut ffi::sqlite3_file) -> c_int {
    0
}

/// Region 0 of the wal-index only, 32 KiB, as SQLite maps it.
unsafe extern "C" fn mem_shm_map(file: *mut ffi::sqlite3_file, region: c_int, size: c_int, _extend: c_int, out: *mut *mut c_void) -> c_int {
    assert_eq!((region, size), (0, 32768));
    // SAFETY: an open file and an out-parameter.
    unsafe {
        let file = mem_file(file);
        if file.shm.is_null() {
            file.shm = Box::into_raw(Box::new([0; 4096]));
        }
        *out = file.shm.cast();
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_shm_lock(_file: *mut ffi::sqlite3_file, _offset: c_int, _n: c_int, _flags: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_shm_barrier(_file: *mut ffi::sqlite3_file) {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}

unsafe extern "C" fn mem_shm_unmap(file: *mut ffi::sqlite3_file, _delete: c_int) -> c_int {
    // SAFETY: an open file.
    unsafe { mem_file(file).unmap() };
    ffi::SQLITE_OK
}

/// The page size of the tests' databases.
pub const PAGE: usize = 4096;

/// A page 1 whose header says `version` at bytes 18 and 19 (2: WAL, 1: rollback).
pub fn page1(version: u8) -> Vec<u8> {
    let mut page = vec![0; PAGE];
    page[..16].copy_from_slice(MAGIC);
    page[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    page[18] = version;
    page[19] = version;
    page[21..24].copy_from_slice(&[64, 32, 32]);
    page
}
