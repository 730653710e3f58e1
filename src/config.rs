//! Process-wide settings, fixed when the extension first loads. An invalid value never
//! fails the load nor unguards anything (`walguard_core::settings`): it gets the default and
//! a warning on stderr and through `sqlite3_log`.

use std::sync::OnceLock;

use walguard_core::Policy;
use walguard_core::settings::{self, Setting};

use crate::host;

pub use walguard_core::settings::POLICY_VAR;

static DEFAULT_POLICY: OnceLock<Policy> = OnceLock::new();
static WAL_RESET_FIX: OnceLock<bool> = OnceLock::new();

/// Is the WAL-reset mitigation on (see `walguard_core::wal_reset`): asked for, on a host that
/// may have the bug?
pub fn wal_reset_fix() -> bool {
    WAL_RESET_FIX.get().copied().unwrap_or(true)
}

/// The policy of files opened without a `walguard` URI parameter.
pub fn default_policy() -> Policy {
    DEFAULT_POLICY.get().copied().unwrap_or(Policy::Enforce)
}

/// Read `WALGUARD_POLICY` and `WALGUARD_WAL_RESET_FIX` (first load only).
pub fn load() {
    let var = |name| std::env::var_os(name);
    DEFAULT_POLICY.get_or_init(|| accept(settings::process_policy(var(POLICY_VAR).as_ref().map(|v| v.as_encoded_bytes()))));
    WAL_RESET_FIX.get_or_init(|| {
        let setting = accept(settings::wal_reset_fix(var(settings::WAL_RESET_VAR).as_ref().map(|v| v.as_encoded_bytes())));
        walguard_core::wal_reset::mitigation_on(setting, host::libversion_number())
    });
}

/// The value of a setting, its warning shown.
pub fn accept<T>(setting: Setting<T>) -> T {
    if let Some(warning) = setting.warning {
        host::warn_once(&warning);
    }
    setting.value
}
