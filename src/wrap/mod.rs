//! A generic, safe layer for a VFS that wraps another one: the only home of `extern "C"` VFS
//! and io methods in walguard, and of the pointer work they need. It knows nothing of
//! walguard's rules; `vfs.rs`, `file.rs` and `wal_file.rs` (walguard's policy) are written on
//! top of it in safe Rust, as hooks:
//!
//! - [`vfs`]: the wrapping VFS (`cksumvfs.c`'s shape: the lower VFS in `pAppData`, every method
//!   forwarded) whose `xOpen` shows each file the lower VFS opened to an [`vfs::OpenHook`];
//! - [`io`]: the io methods of a wrapped file: a copy of the lower table with only the methods
//!   its [`io::FileHooks`] override replaced by trampolines, the wrapper's struct placed in the
//!   file's own allocation (`io::Tail`) or, for a file opened before the wrapper existed,
//!   boxed as its table (`io::Adopted`); file-controls parsed once ([`io::Control`]);
//! - [`lower`]: the lower file as safe calls (`read_at`, the VFS name, shared-memory locks and
//!   the wal-index, a handle SQLite owns);
//! - [`tail`]: where the wrapper's struct sits after the lower file.

pub mod io;
pub mod lower;
mod tail;
pub mod vfs;

#[cfg(test)]
pub use tail::tail_offset;
