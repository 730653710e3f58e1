//! Small helpers over the host's SQLite API: strings SQLite will free, log lines, the host's
//! version, and the one newer function walguard uses when the host has it.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use libsqlite3_sys as ffi;

/// Copy `text` into memory from `malloc`, NUL-terminated, for SQLite to free. Interior NULs
/// cut the message short rather than fail. Returns null when out of memory.
fn copy_with(malloc: impl FnOnce(c_int) -> *mut c_void, text: &str) -> *mut c_char {
    let bytes = text.as_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(c_int::MAX as usize - 1);
    let out = malloc(len as c_int + 1).cast::<u8>();
    if !out.is_null() {
        // SAFETY: `out` has room for len + 1 bytes and does not overlap `bytes`.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), out, len);
            *out.add(len) = 0;
        }
    }
    out.cast()
}

/// `text` in memory from `sqlite3_malloc`, for SQLite to free (null when out of memory).
///
/// # Safety
/// The extension API must be initialised.
pub unsafe fn sqlite_string(text: &str) -> *mut c_char {
    // SAFETY: plain allocation through the initialised API.
    copy_with(|n| unsafe { ffi::sqlite3_malloc(n) }, text)
}

/// Store `message` in an entry point's `char **pzErrMsg`, allocated with the `sqlite3_malloc`
/// of the host `api` belongs to, the one that frees it.
///
/// # Safety
/// `api` is the table SQLite passed to the entry point; `slot` is null or valid for a write.
pub unsafe fn set_error(api: *const ffi::sqlite3_api_routines, slot: *mut *mut c_char, message: &str) {
    // SAFETY: the caller vouches for `api`; `malloc` is among the oldest fields of the table.
    let Some(malloc) = (unsafe { (*api).malloc }) else { return };
    if !slot.is_null() {
        // SAFETY: the host's own allocator; the caller vouches for `slot`.
        unsafe { *slot = copy_with(|n| malloc(n), message) };
    }
}

/// A warning about walguard's own settings, which the user must see even where nobody routes
/// `sqlite3_log`: on stderr and through `sqlite3_log`, once per process for each distinct text.
/// A failed write to stderr (closed, a broken pipe) is ignored: it must never harm the host.
pub fn warn_once(message: &str) {
    static SHOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if shown.iter().any(|m| m == message) {
        return;
    }
    shown.push(message.to_owned());
    drop(shown);
    #[cfg(not(test))]
    {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
    log(ffi::SQLITE_WARNING, message);
}

/// The magic number of the filesystem `path` lives on (`statfs(2)`'s `f_type`).
pub fn filesystem_magic(path: &[u8]) -> Option<u64> {
    if cfg!(miri) {
        return None; // Miri runs no foreign functions; the unit tests' files live in memory
    }
    let path = std::ffi::CString::new(path).ok()?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a NUL-terminated path and a buffer of the size statfs writes.
    if unsafe { libc::statfs(path.as_ptr(), buf.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: statfs succeeded, so it filled the buffer.
    let filesystem = unsafe { buf.assume_init() };
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between architectures
    Some(filesystem.f_type as u64)
}

/// Write one line to SQLite's error log (`SQLITE_CONFIG_LOG`), and to walguard's own
/// destination when `WALGUARD_LOG` names one (`log_sink`). The unit tests, which run
/// without SQLite, keep it instead (`sqlite3_log` is variadic: no Rust stand-in on stable).
pub fn log(code: c_int, message: &str) {
    crate::log_sink::write(code, message);
    let mut line = message.replace('\0', " ").into_bytes();
    line.push(0);
    #[cfg(test)]
    crate::testing::log(code, &line);
    #[cfg(not(test))]
    // SAFETY: "%s" consumes exactly the one NUL-terminated string passed.
    unsafe {
        ffi::sqlite3_log(code, c"%s".as_ptr(), line.as_ptr().cast())
    };
}

/// Borrow a C string's bytes; null gives `None`.
///
/// # Safety
/// `s` is null or a valid NUL-terminated string that outlives the returned slice.
pub unsafe fn bytes<'a>(s: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: the caller vouches for `s`.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_bytes())
}

/// The host SQLite's version string (`sqlite3_libversion`).
pub fn libversion() -> String {
    // SAFETY: a static string of the host library.
    unsafe { bytes(ffi::sqlite3_libversion()) }.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
}

/// The host SQLite's version number (`sqlite3_libversion_number`).
pub fn libversion_number() -> c_int {
    // SAFETY: a plain call through the initialised API.
    unsafe { ffi::sqlite3_libversion_number() }
}

/// `sqlite3_db_name` (SQLite 3.39.0), when the host has it.
///
/// The bindings describe the API table of the oldest supported SQLite (3.31.1, see
/// `.cargo/config.toml`), which ends before this function. SQLite only ever appends to
/// `sqlite3_api_routines` (sqlite3ext.h: "add new interfaces to the end of this structure
/// only"), so on a host of 3.39.0 or later its pointer is the table's slot 264; on an older
/// host that slot is past the end of the table and is never read.
///
/// # Safety
/// `api` is null or the table the host passed to the entry point.
pub unsafe fn db_name_function(api: *const ffi::sqlite3_api_routines) -> Option<DbName> {
    /// The slot of `db_name` in `sqlite3_api_routines` (`offsetof / sizeof(void*)` in 3.39.0's
    /// sqlite3ext.h and every later one).
    const DB_NAME_SLOT: usize = 264;
    const DB_NAME_SINCE: c_int = 3_039_000;
    if api.is_null() || libversion_number() < DB_NAME_SINCE {
        return None;
    }
    // SAFETY: the caller vouches for `api`; the host is 3.39.0 or later, so its table has
    // slot 264, a function pointer (or null) with `sqlite3_db_name`'s signature.
    unsafe { api.cast::<Option<DbName>>().add(DB_NAME_SLOT).read() }
}

/// `const char *sqlite3_db_name(sqlite3 *db, int N)`.
pub type DbName = unsafe extern "C" fn(*mut ffi::sqlite3, c_int) -> *const c_char;

/// A string that SQLite allocated and handed over (a file-control's answer), freed with
/// `sqlite3_free` when dropped.
pub struct SqliteString(ptr::NonNull<c_char>);

impl SqliteString {
    /// # Safety
    /// `s` is null or a NUL-terminated string from SQLite's allocator that the caller owns.
    pub unsafe fn from_raw(s: *mut c_char) -> Option<SqliteString> {
        ptr::NonNull::new(s).map(SqliteString)
    }

    pub fn to_bytes(&self) -> &[u8] {
        // SAFETY: a NUL-terminated string, owned until drop (see `from_raw`).
        unsafe { CStr::from_ptr(self.0.as_ptr()) }.to_bytes()
    }
}

impl Drop for SqliteString {
    fn drop(&mut self) {
        // SAFETY: allocated by SQLite's allocator and owned by us (see `from_raw`).
        unsafe { ffi::sqlite3_free(self.0.as_ptr().cast()) };
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{Layout, alloc, dealloc};

    use super::*;

    /// `copy_with` with an allocator that gives exactly the bytes asked for: Miri reports a
    /// write past them, natively the NUL is checked.
    fn copy(text: &str) -> Option<Vec<u8>> {
        let mut asked = 0;
        let out = copy_with(
            |n| {
                asked = usize::try_from(n).unwrap();
                // SAFETY: a non-zero size.
                unsafe { alloc(Layout::array::<u8>(asked).unwrap()) }.cast()
            },
            text,
        );
        // SAFETY: `copy_with` wrote `asked` bytes, the last one NUL; freed with the layout it was
        // allocated with.
        unsafe {
            let copied = bytes(out).map(<[u8]>::to_vec);
            assert_eq!(copied.as_ref().map_or(0, Vec::len) + 1, asked);
            dealloc(out.cast(), Layout::array::<u8>(asked).unwrap());
            copied
        }
    }

    #[test]
    fn copies_fill_exactly_the_memory_asked_for() {
        assert_eq!(copy("").as_deref(), Some(&b""[..]));
        assert_eq!(copy("walguard: refused").as_deref(), Some(&b"walguard: refused"[..]));
        assert_eq!(copy("cut\0here").as_deref(), Some(&b"cut"[..]), "an interior NUL ends the message");
        let long = "x".repeat(5000);
        assert_eq!(copy(&long).as_deref(), Some(long.as_bytes()));
        assert!(copy_with(|_| ptr::null_mut(), "out of memory").is_null());
    }
}
