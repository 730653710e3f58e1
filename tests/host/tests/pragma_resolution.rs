//! walguard resolves `PRAGMA journal_mode` values exactly as SQLite does: for generated
//! values, the guard refuses on a WAL file if and only if an unguarded SQLite would have
//! switched that file to a rollback journal mode.

use std::path::Path;

use proptest::prelude::*;
use rusqlite::Connection;
use walguard_core::{JournalModeRequest, resolve_journal_mode};
use walguard_host_tests::*;

/// What SQLite itself makes of `value`, asked through the unix VFS (no walguard): probed on
/// two databases in different modes, a query answers each one's mode, a set answers the same.
fn sqlite_resolution(persist: &Connection, truncate: &Connection, value: &str) -> JournalModeRequest {
    let ask = |conn: &Connection, reset: &str| -> String {
        let quoted = value.replace('\'', "''");
        let answer: String = conn.query_row(&format!("PRAGMA journal_mode='{quoted}'"), [], |r| r.get(0)).unwrap();
        conn.query_row(&format!("PRAGMA journal_mode={reset}"), [], |_| Ok(())).unwrap();
        answer
    };
    let (a, b) = (ask(persist, "PERSIST"), ask(truncate, "TRUNCATE"));
    if (a.as_str(), b.as_str()) == ("persist", "truncate") {
        return JournalModeRequest::Query;
    }
    assert_eq!(a, b, "a set answers the new mode on both");
    let mode = walguard_core::JournalMode::ALL.into_iter().find(|m| m.name() == a).unwrap();
    JournalModeRequest::Set(mode)
}

fn unguarded_db(path: &Path, mode: &str) -> Connection {
    let conn = open_with_vfs(path, PLAIN);
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t(x)").unwrap();
    conn.query_row(&format!("PRAGMA journal_mode={mode}"), [], |_| Ok(())).unwrap();
    conn
}

fn values() -> impl Strategy<Value = String> {
    prop_oneof![
        "[dDeElLtTwWaApPsSoOfFrRuUnNcChHmMyY]{0,9}",
        "(delete|persist|off|truncate|memory|wal)[a-z ]{0,2}",
        "[ -~]{0,6}",
        "\\PC{0,4}",
    ]
}

#[test]
fn refusals_follow_sqlites_own_resolution() {
    load_walguard();
    let dir = tempfile::tempdir().unwrap();
    let persist = unguarded_db(&dir.path().join("persist.db"), "PERSIST");
    let truncate = unguarded_db(&dir.path().join("truncate.db"), "TRUNCATE");
    let wal = wal_db(dir.path(), "wal.db", 3);
    let guarded = open(&wal);
    let seen = std::cell::RefCell::new(std::collections::HashSet::new());
    let check = |value: String| -> Result<(), proptest::test_runner::TestCaseError> {
        let sqlite = sqlite_resolution(&persist, &truncate, &value);
        prop_assert_eq!(resolve_journal_mode(Some(value.as_bytes())), sqlite, "value {:?}", value);
        let quoted = value.replace('\'', "''");
        let refused = match guarded.query_row(&format!("PRAGMA journal_mode='{quoted}'"), [], |r| r.get::<_, String>(0)) {
            Ok(answer) => {
                prop_assert_eq!(answer, "wal");
                false
            }
            Err(e) => {
                prop_assert!(e.to_string().starts_with("walguard: refused"), "{}", e);
                true
            }
        };
        let downgrade = matches!(sqlite, JournalModeRequest::Set(m) if m.is_rollback());
        prop_assert_eq!(refused, downgrade, "value {:?}", value);
        seen.borrow_mut().insert(format!("{sqlite:?}"));
        Ok(())
    };
    // One value of each kind first, so every mode and the query are reached whatever the
    // random values are; then 400 generated ones.
    for value in ["d", "P", "oF", "trunc", "MEM", "w", "deletex"] {
        check(value.to_owned()).unwrap();
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 400, ..ProptestConfig::default() });
    runner.run(&values(), check).unwrap();
    assert_eq!(header(&wal), WAL);
    assert!(seen.borrow().len() == 7, "the generator reached queries and every mode: {seen:?}");
}
