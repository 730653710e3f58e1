//! `PRAGMA journal_mode` values, resolved exactly the way SQLite resolves them.
//!
//! `sqlite3Pragma` (pragma.c) compares the value as a case-insensitive prefix against the
//! mode names in the order delete, persist, off, truncate, memory, wal, taking the first
//! match; a value that matches none of them turns the statement into a query. So `''` and
//! `d` mean DELETE, `t` TRUNCATE, `W` WAL, and `deletex` is a query. Comparison uses SQLite's
//! ASCII-only case folding and stops at the value's terminating NUL (the value is a C string).

/// The journal modes SQLite knows, in the order `sqlite3JournalModename` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalMode {
    Delete,
    Persist,
    Off,
    Truncate,
    Memory,
    Wal,
}

impl JournalMode {
    /// Search order of SQLite's journal mode names.
    pub const ALL: [JournalMode; 6] =
        [JournalMode::Delete, JournalMode::Persist, JournalMode::Off, JournalMode::Truncate, JournalMode::Memory, JournalMode::Wal];

    /// The name SQLite reports for the mode.
    pub fn name(self) -> &'static str {
        match self {
            JournalMode::Delete => "delete",
            JournalMode::Persist => "persist",
            JournalMode::Off => "off",
            JournalMode::Truncate => "truncate",
            JournalMode::Memory => "memory",
            JournalMode::Wal => "wal",
        }
    }

    /// Every mode but WAL uses a rollback journal (or none).
    pub fn is_rollback(self) -> bool {
        self != JournalMode::Wal
    }
}

/// What a `PRAGMA journal_mode` statement asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalModeRequest {
    /// Report the current mode (no value, or a value SQLite does not recognise).
    Query,
    /// Change to this mode.
    Set(JournalMode),
}

/// Is `name` the `journal_mode` pragma? SQLite matches pragma names case-insensitively.
pub fn is_journal_mode_pragma(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"journal_mode")
}

/// Resolve the value of `PRAGMA journal_mode[=value]` as SQLite does. `None` is the query
/// form; the value is cut at its first NUL, as SQLite sees a C string.
pub fn resolve_journal_mode(value: Option<&[u8]>) -> JournalModeRequest {
    let Some(value) = value else {
        return JournalModeRequest::Query;
    };
    let value = value.split(|&b| b == 0).next().unwrap_or_default();
    JournalMode::ALL
        .into_iter()
        .find(|mode| {
            let name = mode.name().as_bytes();
            value.len() <= name.len() && value.eq_ignore_ascii_case(&name[..value.len()])
        })
        .map_or(JournalModeRequest::Query, JournalModeRequest::Set)
}

#[cfg(test)]
mod tests {
    use super::JournalMode::*;
    use super::JournalModeRequest::{Query, Set};
    use super::*;
    use proptest::prelude::*;

    fn resolve(v: &str) -> JournalModeRequest {
        resolve_journal_mode(Some(v.as_bytes()))
    }

    #[test]
    fn prefixes_in_sqlite_order() {
        assert_eq!(resolve(""), Set(Delete));
        assert_eq!(resolve("d"), Set(Delete));
        assert_eq!(resolve("De"), Set(Delete));
        assert_eq!(resolve("DELETE"), Set(Delete));
        assert_eq!(resolve("p"), Set(Persist));
        assert_eq!(resolve("o"), Set(Off));
        assert_eq!(resolve("t"), Set(Truncate));
        assert_eq!(resolve("trunc"), Set(Truncate));
        assert_eq!(resolve("m"), Set(Memory));
        assert_eq!(resolve("w"), Set(Wal));
        assert_eq!(resolve("WaL"), Set(Wal));
    }

    #[test]
    fn unknown_values_are_queries() {
        assert_eq!(resolve_journal_mode(None), Query);
        assert_eq!(resolve("deletex"), Query);
        assert_eq!(resolve("wall"), Query);
        assert_eq!(resolve("x"), Query);
        assert_eq!(resolve(" delete"), Query);
        assert_eq!(resolve("1"), Query);
        // SQLite folds ASCII only: a dotless capital I is not an `i`.
        assert_eq!(resolve("DEL\u{130}"), Query);
    }

    #[test]
    fn value_stops_at_nul() {
        assert_eq!(resolve_journal_mode(Some(b"wal\0delete")), Set(Wal));
        assert_eq!(resolve_journal_mode(Some(b"\0wal")), Set(Delete));
    }

    #[test]
    fn pragma_name_is_case_insensitive() {
        assert!(is_journal_mode_pragma(b"JOURNAL_Mode"));
        assert!(!is_journal_mode_pragma(b"journal_size_limit"));
        assert!(!is_journal_mode_pragma(b"journal_mode "));
    }

    /// An independent statement of SQLite's rule, written the way pragma.c does it:
    /// `sqlite3StrNICmp(zRight, zMode, strlen(zRight))` for each name in order (an indexed
    /// loop on purpose: it mirrors the C).
    #[allow(clippy::needless_range_loop)]
    fn reference(value: &[u8]) -> JournalModeRequest {
        let n = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        for mode in JournalMode::ALL {
            let name = mode.name().as_bytes();
            let mut equal = true;
            for i in 0..n {
                let a = value[i].to_ascii_lowercase();
                let b = name.get(i).copied().unwrap_or(0);
                if a != b {
                    equal = false;
                    break;
                }
            }
            if equal {
                return Set(mode);
            }
        }
        Query
    }

    proptest! {
        #[test]
        fn agrees_with_reference_on_any_bytes(value in proptest::collection::vec(any::<u8>(), 0..12)) {
            prop_assert_eq!(resolve_journal_mode(Some(&value)), reference(&value));
        }

        /// Overlong values, invalid UTF-8 and NULs anywhere: no panic, same answer. (Shorter
        /// under Miri, where each generated byte costs milliseconds; still far past every name.)
        #[test]
        fn overlong_and_binary_values(value in proptest::collection::vec(any::<u8>(), 0..if cfg!(miri) { 300 } else { 10_000 })) {
            prop_assert_eq!(resolve_journal_mode(Some(&value)), reference(&value));
        }

        #[test]
        fn agrees_with_reference_on_mode_like_strings(value in "[dDeElLtTwWaApPsSoOfFrRuUnNcChHmMyY]{0,9}") {
            prop_assert_eq!(resolve_journal_mode(Some(value.as_bytes())), reference(value.as_bytes()));
        }

        #[test]
        fn every_prefix_of_every_name_in_any_case_resolves(mode_index in 0usize..6, len in 1usize..9, upper in any::<u64>()) {
            let mode = JournalMode::ALL[mode_index];
            let name = mode.name();
            let len = len.min(name.len());
            let value: String = name[..len].chars().enumerate()
                .map(|(i, c)| if upper >> i & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            // The first mode in SQLite's order whose name starts with the value wins.
            let expected = JournalMode::ALL.into_iter().find(|m| m.name().starts_with(&name[..len])).unwrap();
            prop_assert_eq!(resolve(&value), Set(expected));
        }
    }
}
