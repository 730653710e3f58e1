//! SQLite version strings (`sqlite3_libversion()`, `"3.40.1"`) as the numbers
//! `sqlite3_libversion_number()` gives (`3040001`), for [`crate::wal_reset::affected_version`].

/// `"3.40.1"` -> `3040001`. Exactly three dot-separated decimal parts, major 3, minor and
/// patch below 1000; anything else is `None`.
pub fn version_number(version: &str) -> Option<i32> {
    let mut parts = version.split('.');
    let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |s: &str| -> Option<i32> {
        if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (major, minor, patch) = (num(major)?, num(minor)?, num(patch)?);
    if major != 3 {
        return None;
    }
    Some(major * 1_000_000 + minor * 1_000 + patch)
}

/// Is the SQLite of this version string in the WAL-reset bug's range (3.7.0 through
/// 3.51.2)? `None` when the string is not a version.
pub fn wal_reset_affected(version: &str) -> Option<bool> {
    version_number(version).map(crate::wal_reset::affected_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(version_number("3.40.1"), Some(3_040_001));
        assert_eq!(version_number("3.7.0"), Some(3_007_000));
        assert_eq!(version_number("3.51.3"), Some(3_051_003));
        for bad in ["", "3", "3.40", "3.40.1.2", "4.0.0", "3.x.1", "3.40.-1", "3.1000.0", " 3.40.1"] {
            assert_eq!(version_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_bug_range_ends_at_3_51_2() {
        assert_eq!(wal_reset_affected("3.6.23"), Some(false));
        assert_eq!(wal_reset_affected("3.7.0"), Some(true));
        assert_eq!(wal_reset_affected("3.40.1"), Some(true));
        assert_eq!(wal_reset_affected("3.51.2"), Some(true));
        assert_eq!(wal_reset_affected("3.51.3"), Some(false));
        assert_eq!(wal_reset_affected("3.54.1"), Some(false));
        assert_eq!(wal_reset_affected("abc"), None);
    }
}
