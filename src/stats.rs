//! What walguard did since it was loaded: counters for `walguard_status()`.
//!
//! Counted only when something is refused, kept, warned about or deliberately allowed, so
//! the atomics are never touched on the I/O path.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One counter per kind of event.
#[derive(Clone, Copy)]
pub enum Event {
    /// `journal_mode` pragma refused (enforce, strict).
    RefusedPragma,
    /// Header write to the database file refused (enforce, keep, strict), outside checkpoints.
    RefusedHeaderWrite,
    /// WAL frame whose page 1 leaves WAL refused.
    RefusedWalFrame,
    /// Checkpoint refused because the WAL holds a page 1 that leaves WAL.
    RefusedCheckpoint,
    /// `journal_mode` pragma answered with `wal` (keep).
    Kept,
    /// Downgrade let through and logged (warn), at either layer.
    Warned,
    /// Downgrade requested on a file opened with `walguard=off`.
    Deliberate,
    /// Checkpoint held back by the WAL-reset mitigation (the WAL was reset under it).
    WalResetHeld,
}

const EVENTS: usize = Event::WalResetHeld as usize + 1;

static COUNTERS: [AtomicU64; EVENTS] = [const { AtomicU64::new(0) }; EVENTS];

pub fn count(event: Event) {
    COUNTERS[event as usize].fetch_add(1, Ordering::Relaxed);
}

pub fn get(event: Event) -> u64 {
    COUNTERS[event as usize].load(Ordering::Relaxed)
}

/// The guarded WAL databases found on a filesystem where WAL is not known to be safe
/// (`walguard_core::fs`), as `path (filesystem: safety)`, at most [`AT_RISK_KEPT`].
static AT_RISK: Mutex<Vec<String>> = Mutex::new(Vec::new());
const AT_RISK_KEPT: usize = 16;

/// Note a database at risk; true the first time it is noted (say so once).
pub fn note_at_risk(entry: String) -> bool {
    let mut at_risk = AT_RISK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if at_risk.contains(&entry) {
        return false;
    }
    if at_risk.len() < AT_RISK_KEPT {
        at_risk.push(entry);
    }
    true
}

pub fn at_risk() -> Vec<String> {
    AT_RISK.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}
