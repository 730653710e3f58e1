//! Small helpers over the host's SQLite API: strings SQLite will free, and log lines.

use std::ffi::{CStr, c_char, c_int};
use std::ptr;

use libsqlite3_sys as ffi;

/// Copy `text` into memory from `sqlite3_malloc64`, NUL-terminated, for SQLite to free.
/// Interior NULs cut the message short rather than fail. Returns null when out of memory.
///
/// # Safety
/// The extension API must be initialised (at least `sqlite3_malloc64`).
pub unsafe fn sqlite_string(text: &str) -> *mut c_char {
    let bytes = text.as_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    // SAFETY: plain allocation through the host; checked for null below.
    let out = unsafe { ffi::sqlite3_malloc64(len as u64 + 1) } as *mut u8;
    if !out.is_null() {
        // SAFETY: `out` has room for len + 1 bytes and does not overlap `bytes`.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), out, len);
            *out.add(len) = 0;
        }
    }
    out.cast()
}

/// Store `message` in an `char **pzErrMsg`-style slot, if there is one.
///
/// # Safety
/// `slot` is null or valid for a write; the API is initialised.
pub unsafe fn set_error(slot: *mut *mut c_char, message: &str) {
    if !slot.is_null() {
        // SAFETY: the caller vouches for `slot`.
        unsafe { *slot = sqlite_string(message) };
    }
}

/// Write one line to SQLite's error log (`SQLITE_CONFIG_LOG`).
pub fn log(code: c_int, message: &str) {
    let mut line = message.replace('\0', " ").into_bytes();
    line.push(0);
    // SAFETY: "%s" consumes exactly the one NUL-terminated string passed.
    unsafe { ffi::sqlite3_log(code, c"%s".as_ptr(), line.as_ptr().cast()) };
}

/// Borrow a C string's bytes; null gives `None`.
///
/// # Safety
/// `s` is null or a valid NUL-terminated string that outlives the returned slice.
pub unsafe fn bytes<'a>(s: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: the caller vouches for `s`.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_bytes())
}
