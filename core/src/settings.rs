//! walguard's settings, read from the environment and from URI parameters, and the one rule
//! for a value that is not valid: a typo never unguards anything. An invalid, empty or
//! mis-cased value gives the default and a warning that names the value, the valid ones and
//! what walguard does instead.

use crate::policy::Policy;

/// The environment variable that sets the process's default policy.
pub const POLICY_VAR: &str = "WALGUARD_POLICY";
/// The environment variable that turns the WAL-reset mitigation off (`off`) or on (`on`).
pub const WAL_RESET_VAR: &str = "WALGUARD_WAL_RESET_FIX";
/// The URI parameter that sets one file's policy.
pub const POLICY_PARAMETER: &str = "walguard";
/// The name walguard registers its VFS under besides the names of the VFSes it wraps, and the
/// prefix of its answer to `SQLITE_FCNTL_VFSNAME` (`walguard/unix`).
pub const VFS_NAME: &std::ffi::CStr = c"walguard";

/// A setting's value and, when the value given was not valid, the warning to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub warning: Option<String>,
}

impl<T> Setting<T> {
    fn valid(value: T) -> Setting<T> {
        Setting { value, warning: None }
    }
}

/// The policy of the process (`WALGUARD_POLICY`), `None` when the variable is not set:
/// enforce. `off` is not a process policy: turning the guard off is a per-file decision
/// (`?walguard=off`), so it gets the default too.
pub fn process_policy(value: Option<&[u8]>) -> Setting<Policy> {
    let Some(value) = value else { return Setting::valid(Policy::Enforce) };
    match Policy::parse(value) {
        Some(policy) if policy != Policy::Off => Setting::valid(policy),
        parsed => {
            let valid: Vec<&str> = Policy::ALL.into_iter().filter(|&p| p != Policy::Off).map(Policy::name).collect();
            let hint =
                if parsed == Some(Policy::Off) { " (off is only for one file at a time: the URI parameter walguard=off)" } else { "" };
            Setting {
                value: Policy::Enforce,
                warning: Some(format!(
                    "walguard: invalid value {} for {POLICY_VAR}{hint}; valid values: {}; guarding this process under the default policy, enforce",
                    quoted(value),
                    valid.join(", ")
                )),
            }
        }
    }
}

/// The policy of one file: its `walguard` URI parameter (`None`: absent) or the process's.
pub fn file_policy(value: Option<&[u8]>, default: Policy, path: &str) -> Setting<Policy> {
    let Some(value) = value else { return Setting::valid(default) };
    match Policy::parse(value) {
        Some(policy) => Setting::valid(policy),
        None => Setting {
            value: default,
            warning: Some(format!(
                "walguard: invalid value {} for URI parameter {POLICY_PARAMETER}; valid values: {}; guarding '{path}' under the \
                 default policy, {}",
                quoted(value),
                Policy::valid_names(),
                default.name()
            )),
        },
    }
}

/// Whether the WAL-reset mitigation is on (`WALGUARD_WAL_RESET_FIX`): on unless exactly `off`.
pub fn wal_reset_fix(value: Option<&[u8]>) -> Setting<bool> {
    match value {
        None | Some(b"on") => Setting::valid(true),
        Some(b"off") => Setting::valid(false),
        Some(other) => Setting {
            value: true,
            warning: Some(format!("walguard: invalid value {} for {WAL_RESET_VAR}; valid values: on, off; keeping it on", quoted(other))),
        },
    }
}

/// The URI that opens the database at `path` with the guard off: the deliberate path a refusal
/// suggests. Every byte of the path that a URI filename would read as something else (`?`
/// starts the parameters, `#` the fragment, `%` an escape, and spaces, controls and non-ASCII)
/// is percent-encoded, as SQLite's URI parser decodes it back, so the URI names exactly `path`.
/// An absolute path gets the empty authority (`file:///...`), so a path starting with `//`
/// is not read as a host.
pub fn deliberate_uri(path: &[u8]) -> String {
    let mut uri = String::from(if path.starts_with(b"/") { "file://" } else { "file:" });
    for &byte in path {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => uri.push(char::from(byte)),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri.push_str(&format!("?{POLICY_PARAMETER}=off"));
    uri
}

/// `'value'`, with anything unprintable escaped, so an empty value or stray bytes show.
fn quoted(value: &[u8]) -> String {
    format!("'{}'", value.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_process_policies() {
        assert_eq!(process_policy(None), Setting::valid(Policy::Enforce));
        for policy in [Policy::Enforce, Policy::Keep, Policy::Warn, Policy::Strict] {
            assert_eq!(process_policy(Some(policy.name().as_bytes())), Setting::valid(policy));
        }
    }

    /// A typo, an empty value, a mis-cased name or `off` leave the process guarded.
    #[test]
    fn an_invalid_process_policy_gives_enforce_and_a_warning() {
        for value in [&b"enfroce"[..], b"", b"KEEP", b"Enforce", b" keep", b"off", b"\xff"] {
            let setting = process_policy(Some(value));
            assert_eq!(setting.value, Policy::Enforce, "{value:?}");
            let warning = setting.warning.unwrap();
            assert!(warning.starts_with(&format!("walguard: invalid value '{}' for WALGUARD_POLICY", value.escape_ascii())), "{warning}");
            assert!(warning.ends_with("guarding this process under the default policy, enforce"), "{warning}");
            assert!(!warning.contains("valid values: enforce, keep, warn, strict, off"), "off is not offered: {warning}");
        }
        assert!(process_policy(Some(b"off")).warning.unwrap().contains("only for one file at a time"));
    }

    #[test]
    fn file_policies() {
        assert_eq!(file_policy(None, Policy::Keep, "a.db"), Setting::valid(Policy::Keep));
        assert_eq!(file_policy(Some(b"off"), Policy::Keep, "a.db"), Setting::valid(Policy::Off));
        for value in [&b"bogus"[..], b"", b"OFF", b"Off"] {
            let setting = file_policy(Some(value), Policy::Keep, "/x/a.db");
            assert_eq!(setting.value, Policy::Keep, "never off by a typo: {value:?}");
            let warning = setting.warning.unwrap();
            assert!(warning.contains(&format!("invalid value '{}' for URI parameter walguard", value.escape_ascii())), "{warning}");
            assert!(warning.ends_with("guarding '/x/a.db' under the default policy, keep"), "{warning}");
        }
    }

    #[test]
    fn deliberate_uris_name_exactly_the_path() {
        assert_eq!(deliberate_uri(b"/srv/app.db"), "file:///srv/app.db?walguard=off");
        assert_eq!(deliberate_uri(b"rel/app.db"), "file:rel/app.db?walguard=off");
        assert_eq!(deliberate_uri(b"/a b/x#1?y%z&w=1.db"), "file:///a%20b/x%231%3Fy%25z%26w%3D1.db?walguard=off");
        assert_eq!(deliberate_uri(b"//host/x.db"), "file:////host/x.db?walguard=off");
        assert_eq!(deliberate_uri("/d/é.db".as_bytes()), "file:///d/%C3%A9.db?walguard=off");
    }

    #[test]
    fn the_wal_reset_fix_stays_on_unless_exactly_off() {
        assert_eq!(wal_reset_fix(None), Setting::valid(true));
        assert_eq!(wal_reset_fix(Some(b"on")), Setting::valid(true));
        assert_eq!(wal_reset_fix(Some(b"off")), Setting::valid(false));
        for value in [&b"OFF"[..], b"", b"0", b"no"] {
            let setting = wal_reset_fix(Some(value));
            assert!(setting.value, "{value:?}");
            assert!(setting.warning.unwrap().ends_with("keeping it on"));
        }
    }
}
