//! Policies, and the decision of layer 1 (the `journal_mode` pragma) under them.
//!
//! A downgrade is a change of a file whose on-disk header says WAL to a rollback journal
//! mode. It is seen at two layers: the `journal_mode` pragma sent to the file (decided here)
//! and the write of a header that leaves WAL (decided by [`crate::write_guard`]).

use crate::header::HeaderFormat;
use crate::pragma::{JournalMode, JournalModeRequest};

/// How loud the guard is for one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse downgrades with an error (the default).
    Enforce,
    /// Answer the pragma with `wal` and change nothing, as SQLite does for a mode it cannot
    /// change; header writes that would downgrade are refused.
    Keep,
    /// Let downgrades happen, but log and count them.
    Warn,
    /// Like `Enforce`, and also refuse rollback modes on files that are not WAL yet.
    Strict,
    /// No checks: the deliberate path for an operator converting a database on purpose.
    Off,
}

impl Policy {
    pub const ALL: [Policy; 5] = [Policy::Enforce, Policy::Keep, Policy::Warn, Policy::Strict, Policy::Off];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Enforce => "enforce",
            Policy::Keep => "keep",
            Policy::Warn => "warn",
            Policy::Strict => "strict",
            Policy::Off => "off",
        }
    }

    /// Parse a policy name. Names are exact: a misspelt policy must never silently become
    /// another one.
    pub fn parse(name: &[u8]) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name().as_bytes() == name)
    }

    /// The valid names, for error messages: `enforce, keep, warn, strict, off`.
    pub fn valid_names() -> String {
        Policy::ALL.map(Policy::name).join(", ")
    }
}

/// What to do with a `journal_mode` pragma.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PragmaVerdict {
    /// Not a downgrade (or the policy lets everything through): SQLite handles it.
    Allow,
    /// Fail the statement with a `walguard:` error.
    Refuse,
    /// Answer `wal` without changing anything.
    Keep,
    /// Let SQLite change the mode, and report it.
    Warn,
    /// Policy `off` on a WAL file: the deliberate conversion. Let SQLite change the mode, and
    /// report it as deliberate.
    Deliberate,
}

/// What, besides the header, decides whether SQLite itself would leave WAL. Wherever it would
/// not, walguard lets the pragma through and SQLite gives its own answer: a false refusal
/// breaks an application as surely as a missed downgrade corrupts a database. (Where this is
/// wrong, layer 2 still refuses the header write.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PragmaContext {
    /// The connection is inside a transaction (`sqlite3_get_autocommit` is 0): `OP_JournalMode`
    /// then either fails ("cannot change out of wal mode from within a transaction") or, once
    /// the transaction has written, answers the current mode.
    pub in_transaction: bool,
    /// `SQLITE_DBCONFIG_DEFENSIVE` is on: `journal_mode=OFF` is a query (pragma.c).
    pub defensive: bool,
    /// The file cannot be written through this connection: opened read-only (`mode=ro`, a
    /// read-only file), `immutable=1` (SQLite answers and writes nothing) or `nolock=1`.
    pub cannot_write: bool,
}

/// Decide a `PRAGMA journal_mode` request for a file whose header currently says `on_disk`.
pub fn decide_pragma(policy: Policy, request: JournalModeRequest, on_disk: HeaderFormat, context: PragmaContext) -> PragmaVerdict {
    let JournalModeRequest::Set(mode) = request else {
        return PragmaVerdict::Allow;
    };
    if !mode.is_rollback() || (context.defensive && mode == JournalMode::Off) {
        return PragmaVerdict::Allow;
    }
    if on_disk == HeaderFormat::Wal && (context.in_transaction || context.cannot_write) {
        return PragmaVerdict::Allow;
    }
    match (policy, on_disk) {
        (Policy::Off, HeaderFormat::Wal) => PragmaVerdict::Deliberate,
        (Policy::Off, _) => PragmaVerdict::Allow,
        (Policy::Strict, _) => PragmaVerdict::Refuse,
        (_, HeaderFormat::Absent | HeaderFormat::Rollback | HeaderFormat::Other) => PragmaVerdict::Allow,
        (Policy::Enforce, HeaderFormat::Wal) => PragmaVerdict::Refuse,
        (Policy::Keep, HeaderFormat::Wal) => PragmaVerdict::Keep,
        (Policy::Warn, HeaderFormat::Wal) => PragmaVerdict::Warn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FORMATS: [HeaderFormat; 4] = [HeaderFormat::Absent, HeaderFormat::Rollback, HeaderFormat::Wal, HeaderFormat::Other];

    fn set(mode: JournalMode) -> JournalModeRequest {
        JournalModeRequest::Set(mode)
    }

    #[test]
    fn policy_names_round_trip_exactly() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name().as_bytes()), Some(p));
        }
        assert_eq!(Policy::parse(b"Enforce"), None);
        assert_eq!(Policy::parse(b""), None);
        assert_eq!(Policy::parse(b"enforce "), None);
        assert_eq!(Policy::valid_names(), "enforce, keep, warn, strict, off");
    }

    #[test]
    fn enforce_refuses_every_rollback_mode_on_wal_files_only() {
        for mode in JournalMode::ALL {
            let expected = if mode.is_rollback() { PragmaVerdict::Refuse } else { PragmaVerdict::Allow };
            assert_eq!(decide_pragma(Policy::Enforce, set(mode), HeaderFormat::Wal, PragmaContext::default()), expected);
            for format in [HeaderFormat::Absent, HeaderFormat::Rollback, HeaderFormat::Other] {
                assert_eq!(decide_pragma(Policy::Enforce, set(mode), format, PragmaContext::default()), PragmaVerdict::Allow);
            }
        }
    }

    #[test]
    fn queries_and_wal_requests_always_pass() {
        for policy in Policy::ALL {
            for format in FORMATS {
                assert_eq!(decide_pragma(policy, JournalModeRequest::Query, format, PragmaContext::default()), PragmaVerdict::Allow);
                assert_eq!(decide_pragma(policy, set(JournalMode::Wal), format, PragmaContext::default()), PragmaVerdict::Allow);
            }
        }
    }

    #[test]
    fn each_policy_on_a_wal_file() {
        let delete = set(JournalMode::Delete);
        assert_eq!(decide_pragma(Policy::Keep, delete, HeaderFormat::Wal, PragmaContext::default()), PragmaVerdict::Keep);
        assert_eq!(decide_pragma(Policy::Warn, delete, HeaderFormat::Wal, PragmaContext::default()), PragmaVerdict::Warn);
        assert_eq!(decide_pragma(Policy::Strict, delete, HeaderFormat::Wal, PragmaContext::default()), PragmaVerdict::Refuse);
        assert_eq!(decide_pragma(Policy::Off, delete, HeaderFormat::Wal, PragmaContext::default()), PragmaVerdict::Deliberate);
        assert_eq!(decide_pragma(Policy::Off, delete, HeaderFormat::Rollback, PragmaContext::default()), PragmaVerdict::Allow);
        // Where SQLite itself stays in WAL, nothing deliberate happens: not reported as one.
        let in_transaction = PragmaContext { in_transaction: true, ..PragmaContext::default() };
        assert_eq!(decide_pragma(Policy::Off, delete, HeaderFormat::Wal, in_transaction), PragmaVerdict::Allow);
    }

    #[test]
    fn where_sqlite_itself_stays_in_wal_the_pragma_goes_through() {
        let delete = set(JournalMode::Delete);
        for policy in [Policy::Enforce, Policy::Keep, Policy::Strict, Policy::Warn] {
            let in_transaction = PragmaContext { in_transaction: true, ..PragmaContext::default() };
            let cannot_write = PragmaContext { cannot_write: true, ..PragmaContext::default() };
            let defensive = PragmaContext { defensive: true, ..PragmaContext::default() };
            assert_eq!(decide_pragma(policy, delete, HeaderFormat::Wal, in_transaction), PragmaVerdict::Allow);
            assert_eq!(decide_pragma(policy, delete, HeaderFormat::Wal, cannot_write), PragmaVerdict::Allow);
            assert_eq!(decide_pragma(policy, set(JournalMode::Off), HeaderFormat::Wal, defensive), PragmaVerdict::Allow, "a query");
        }
        let defensive = PragmaContext { defensive: true, ..PragmaContext::default() };
        assert_eq!(decide_pragma(Policy::Enforce, delete, HeaderFormat::Wal, defensive), PragmaVerdict::Refuse, "only OFF is a query");
        // Strict still wants WAL everywhere: a rollback file inside a transaction is refused.
        let in_transaction = PragmaContext { in_transaction: true, ..PragmaContext::default() };
        assert_eq!(decide_pragma(Policy::Strict, delete, HeaderFormat::Rollback, in_transaction), PragmaVerdict::Refuse);
    }

    #[test]
    fn strict_refuses_rollback_modes_everywhere() {
        for format in FORMATS {
            assert_eq!(decide_pragma(Policy::Strict, set(JournalMode::Truncate), format, PragmaContext::default()), PragmaVerdict::Refuse);
        }
    }

    fn any_policy() -> impl Strategy<Value = Policy> {
        proptest::sample::select(Policy::ALL.to_vec())
    }
    fn any_format() -> impl Strategy<Value = HeaderFormat> {
        proptest::sample::select(FORMATS.to_vec())
    }

    proptest! {
        /// Outside `strict`, a pragma is only ever stopped on a file whose header says WAL.
        #[test]
        fn pragma_interference_needs_a_wal_header(policy in any_policy(), on_disk in any_format(), mode in 0usize..6) {
            let verdict = decide_pragma(policy, set(JournalMode::ALL[mode]), on_disk, PragmaContext::default());
            if policy != Policy::Strict && on_disk != HeaderFormat::Wal {
                prop_assert_eq!(verdict, PragmaVerdict::Allow);
            }
        }
    }
}
