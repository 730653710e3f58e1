//! walguard's decisions, as plain code with no FFI.
//!
//! The extension (the `walguard` crate) only translates SQLite's VFS calls into these:
//! - [`header`]: what a database header says about the journal;
//! - [`log`]: walguard's own log destination (`WALGUARD_LOG`): parsing, rate limit, lines;
//! - [`pragma`]: `PRAGMA journal_mode` values resolved the way SQLite resolves them;
//! - [`policy`]: the policies and the refuse/allow decision for pragmas (layer 1);
//! - [`settings`]: the environment variables and the URI parameter, and what an invalid value gets;
//! - [`write_guard`]: the per-file state machine that decides header writes (layer 2);
//! - [`checkpoint`]: where a host shows its checkpoints to that state machine;
//! - [`wal`]: which writes to a WAL file put byte 19 of which page;
//! - [`journal`]: whether a rollback journal holds the page 1 being written back;
//! - [`wal_reset`]: the salt check that neutralises SQLite's WAL-reset bug on checkpoints;
//! - [`fs`]: which filesystem a database is on, and whether WAL is safe there;
//! - [`version`]: SQLite version strings as version numbers;
//! - [`shim`]: where walguard's per-file struct goes in SQLite's allocation for a file;
//! - [`status`]: the JSON object `walguard_status()` returns.

pub mod checkpoint;
pub mod fs;
pub mod header;
pub mod journal;
pub mod log;
pub mod policy;
pub mod pragma;
pub mod settings;
pub mod shim;
pub mod status;
pub mod version;
pub mod wal;
pub mod wal_reset;
pub mod write_guard;

pub use header::HeaderFormat;
pub use policy::{Policy, PragmaContext, PragmaVerdict, decide_pragma};
pub use pragma::{JournalMode, JournalModeRequest, is_journal_mode_pragma, resolve_journal_mode};
pub use write_guard::{Disk, FileGuard, Refusal, Target, Verdict};
