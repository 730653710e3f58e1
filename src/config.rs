//! Process-wide settings, fixed when the extension loads.

use std::sync::OnceLock;

use walguard_core::Policy;

/// The environment variable that sets the process's default policy.
pub const POLICY_VAR: &str = "WALGUARD_POLICY";

/// The environment variable that turns the WAL-reset mitigation off (`off`) or on (`on`,
/// the default).
pub const WAL_RESET_VAR: &str = "WALGUARD_WAL_RESET_FIX";

static DEFAULT_POLICY: OnceLock<Policy> = OnceLock::new();
static WAL_RESET_FIX: OnceLock<bool> = OnceLock::new();

/// Is the WAL-reset mitigation on (see `walguard_core::wal_reset`)?
pub fn wal_reset_fix() -> bool {
    WAL_RESET_FIX.get().copied().unwrap_or(true)
}

/// The policy of files opened without a `walguard` URI parameter.
pub fn default_policy() -> Policy {
    DEFAULT_POLICY.get().copied().unwrap_or(Policy::Enforce)
}

/// Read `WALGUARD_POLICY` and `WALGUARD_WAL_RESET_FIX` (first load only). `off` is refused here: turning the guard off
/// is a per-file decision (`?walguard=off`), never a process-wide one.
pub fn load_default_policy() -> Result<(), String> {
    let policy = match std::env::var_os(POLICY_VAR) {
        None => Policy::Enforce,
        Some(value) => {
            let bytes = value.as_encoded_bytes();
            match Policy::parse(bytes) {
                Some(policy) if policy != Policy::Off => policy,
                _ => {
                    let valid: Vec<&str> = Policy::ALL.into_iter().filter(|&p| p != Policy::Off).map(Policy::name).collect();
                    return Err(format!(
                        "walguard: invalid value '{}' for environment variable {POLICY_VAR}; valid values: {} \
                         (turn the guard off for one file with the URI parameter walguard=off)",
                        value.to_string_lossy(),
                        valid.join(", ")
                    ));
                }
            }
        }
    };
    DEFAULT_POLICY.get_or_init(|| policy);
    let fix = match std::env::var_os(WAL_RESET_VAR).as_deref().map(|v| v.as_encoded_bytes()) {
        None | Some(b"on") => true,
        Some(b"off") => false,
        Some(other) => {
            return Err(format!(
                "walguard: invalid value '{}' for environment variable {WAL_RESET_VAR}; valid values: on, off",
                String::from_utf8_lossy(other)
            ));
        }
    };
    WAL_RESET_FIX.get_or_init(|| fix);
    Ok(())
}
