//! The JSON object `walguard_status()` returns.

/// What walguard reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status<'a> {
    pub version: &'a str,
    pub base_vfs: &'a str,
    /// Every VFS name walguard answers to (`sqlite3_vfs_find` finds walguard under each).
    pub vfs_names: &'a [String],
    pub policy: &'a str,
    pub refused_pragmas: u64,
    pub refused_header_writes: u64,
    pub refused_wal_frames: u64,
    pub refused_checkpoints: u64,
    pub kept: u64,
    pub warned: u64,
    pub deliberate: u64,
    /// The host SQLite (`sqlite3_libversion`), whether its version is in the range the
    /// WAL-reset bug affects, whether the mitigation is on, and how many checkpoints it held back.
    pub sqlite_version: &'a str,
    pub wal_reset_bug_range: bool,
    pub wal_reset_mitigation: bool,
    pub wal_reset_checkpoints_held: u64,
    /// The oldest SQLite walguard loads into: the version of the headers its bindings come from.
    pub sqlite_floor: &'a str,
    /// The commit and compiler walguard was built with.
    pub build: &'a str,
}

impl Status<'_> {
    pub fn to_json(&self) -> String {
        format!(
            concat!(
                r#"{{"version":{},"base_vfs":{},"vfs_names":[{}],"policy":{},"refused_pragmas":{},"refused_header_writes":{},"#,
                r#""refused_wal_frames":{},"refused_checkpoints":{},"kept":{},"warned":{},"deliberate":{},"#,
                r#""sqlite_version":{},"wal_reset_bug_range":{},"wal_reset_mitigation":{},"wal_reset_checkpoints_held":{},"#,
                r#""sqlite_floor":{},"build":{}}}"#
            ),
            json_string(self.version),
            json_string(self.base_vfs),
            self.vfs_names.iter().map(|name| json_string(name)).collect::<Vec<_>>().join(","),
            json_string(self.policy),
            self.refused_pragmas,
            self.refused_header_writes,
            self.refused_wal_frames,
            self.refused_checkpoints,
            self.kept,
            self.warned,
            self.deliberate,
            json_string(self.sqlite_version),
            self.wal_reset_bug_range,
            self.wal_reset_mitigation,
            self.wal_reset_checkpoints_held,
            json_string(self.sqlite_floor),
            json_string(self.build),
        )
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_field() {
        let status = Status {
            version: "1.2.3",
            base_vfs: "unix",
            vfs_names: &["unix-excl".to_owned(), "unix".to_owned(), "walguard".to_owned()],
            policy: "enforce",
            refused_pragmas: 1,
            refused_header_writes: 2,
            refused_wal_frames: 6,
            refused_checkpoints: 7,
            kept: 3,
            warned: 4,
            deliberate: 5,
            sqlite_version: "3.40.1",
            wal_reset_bug_range: true,
            wal_reset_mitigation: true,
            wal_reset_checkpoints_held: 8,
            sqlite_floor: "3.31.1",
            build: "commit 0123456789ab, rustc 1.91.0",
        };
        assert_eq!(
            status.to_json(),
            r#"{"version":"1.2.3","base_vfs":"unix","vfs_names":["unix-excl","unix","walguard"],"policy":"enforce","refused_pragmas":1,"refused_header_writes":2,"refused_wal_frames":6,"refused_checkpoints":7,"kept":3,"warned":4,"deliberate":5,"sqlite_version":"3.40.1","wal_reset_bug_range":true,"wal_reset_mitigation":true,"wal_reset_checkpoints_held":8,"sqlite_floor":"3.31.1","build":"commit 0123456789ab, rustc 1.91.0"}"#
        );
    }

    #[test]
    fn escapes_strings() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\u000ad\u0001é""#);
    }
}
