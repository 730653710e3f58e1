//! walguard's decisions, as plain functions with no FFI.
//!
//! The extension (the `walguard` crate) only translates SQLite's VFS calls into these:
//! - [`header`]: what a database header says about the journal;
//! - [`pragma`]: `PRAGMA journal_mode` values resolved the way SQLite resolves them;
//! - [`policy`]: the policies and the refuse/allow decisions for pragmas and header writes;
//! - [`journal`]: whether a hot rollback journal holds the page 1 being written back;
//! - [`status`]: the JSON object `walguard_status()` returns.

pub mod header;
pub mod journal;
pub mod policy;
pub mod pragma;
pub mod status;

pub use header::HeaderFormat;
pub use policy::{Policy, PragmaVerdict, WriteVerdict, decide_header_write, decide_pragma};
pub use pragma::{JournalMode, JournalModeRequest, is_journal_mode_pragma, resolve_journal_mode};
