//! Process-wide settings, fixed when the extension loads.

use std::sync::OnceLock;

use walguard_core::Policy;

/// The environment variable that sets the process's default policy.
pub const POLICY_VAR: &str = "WALGUARD_POLICY";

static DEFAULT_POLICY: OnceLock<Policy> = OnceLock::new();

/// The policy of files opened without a `walguard` URI parameter.
pub fn default_policy() -> Policy {
    DEFAULT_POLICY.get().copied().unwrap_or(Policy::Enforce)
}

/// Read `WALGUARD_POLICY` (first load only). `off` is refused here: turning the guard off
/// is a per-file decision (`?walguard=off`), never a process-wide one.
pub fn load_default_policy() -> Result<(), String> {
    let policy = match std::env::var_os(POLICY_VAR) {
        None => Policy::Enforce,
        Some(value) => {
            let bytes = value.as_encoded_bytes();
            match Policy::parse(bytes) {
                Some(policy) if policy != Policy::Off => policy,
                _ => {
                    return Err(format!(
                        "walguard: invalid value '{}' for environment variable {POLICY_VAR}; valid values: enforce, keep, warn, strict \
                         (turn the guard off for one file with the URI parameter walguard=off)",
                        value.to_string_lossy()
                    ));
                }
            }
        }
    };
    DEFAULT_POLICY.get_or_init(|| policy);
    Ok(())
}
