//! walguard's own log destination (`WALGUARD_LOG`), as plain code: which destination a value
//! names, the rate limit that keeps a retry loop from flooding it, and the text of a line.
//! The extension's `log_sink` does the writing.
//!
//! Values of `WALGUARD_LOG`:
//! - unset, empty, `off` or `none`: no destination of walguard's own (lines go to
//!   `sqlite3_log` only, as they always do);
//! - `stderr`: the process's standard error;
//! - `syslog`: the local syslog socket `/dev/log` (facility user, ident `walguard`);
//!   `syslog:/path` names another datagram socket;
//! - an absolute path: a file, appended to (created when missing).
//!
//! Anything else is invalid: the caller falls back to stderr with a one-line warning.

use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that names walguard's own log destination.
pub const LOG_VAR: &str = "WALGUARD_LOG";

/// The socket `syslog` means.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// Where walguard writes its lines besides `sqlite3_log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stderr,
    /// A datagram socket that speaks the local syslog protocol.
    Syslog(PathBuf),
    /// A file, opened for appending at each line (so a rotated file is followed).
    File(PathBuf),
}

/// Parse a value of `WALGUARD_LOG`: `Ok(None)` for no destination of walguard's own,
/// `Err(reason)` for a value that names none.
pub fn parse_destination(value: &[u8]) -> Result<Option<Destination>, String> {
    let text = std::str::from_utf8(value).map_err(|_| "the value is not UTF-8".to_string())?;
    match text {
        "" | "off" | "none" => Ok(None),
        "stderr" => Ok(Some(Destination::Stderr)),
        "syslog" => Ok(Some(Destination::Syslog(PathBuf::from(SYSLOG_SOCKET)))),
        _ => {
            if let Some(socket) = text.strip_prefix("syslog:") {
                if socket.starts_with('/') {
                    return Ok(Some(Destination::Syslog(PathBuf::from(socket))));
                }
                return Err("syslog: must be followed by an absolute socket path".to_string());
            }
            if text.starts_with('/') && !text.ends_with('/') {
                Ok(Some(Destination::File(PathBuf::from(text))))
            } else {
                Err("valid values: stderr, syslog, syslog:/socket, an absolute file path, off".to_string())
            }
        }
    }
}

/// The warning written (to stderr) when `WALGUARD_LOG` names no destination, or the one it
/// names cannot be written.
pub fn fallback_warning(value: &str, reason: &str) -> String {
    format!("walguard: {LOG_VAR}='{value}': {reason}; logging to stderr instead\n")
}

/// What the rate limiter says about one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Write it; `suppressed` lines were dropped since the last one written (say so first).
    Write { suppressed: u64 },
    /// Drop it (counted, and reported with the next line written).
    Drop,
}

/// A token bucket: `burst` lines at once, then one line every `every`.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    burst: u32,
    every: Duration,
    tokens: u32,
    /// The time the last token was added (or the start).
    refilled: Duration,
    suppressed: u64,
}

impl RateLimiter {
    /// walguard's limits: 20 lines at once, then one a second.
    pub const BURST: u32 = 20;
    pub const EVERY: Duration = Duration::from_secs(1);

    pub fn new(burst: u32, every: Duration) -> Self {
        RateLimiter {
            burst: burst.max(1),
            every: every.max(Duration::from_nanos(1)),
            tokens: burst.max(1),
            refilled: Duration::ZERO,
            suppressed: 0,
        }
    }

    /// Decide about a line at `now` (time since any fixed start; never going backwards is
    /// assumed, a step back only delays the refill).
    pub fn admit(&mut self, now: Duration) -> Admit {
        if now > self.refilled {
            let elapsed = now - self.refilled;
            let earned = elapsed.as_nanos() / self.every.as_nanos();
            if earned > 0 {
                let room = u128::from(self.burst - self.tokens);
                self.tokens += earned.min(room) as u32;
                // Keep the fraction of a period already elapsed, unless the bucket is full.
                self.refilled = if self.tokens == self.burst { now } else { self.refilled + self.every * earned as u32 };
            }
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            return Admit::Drop;
        }
        self.tokens -= 1;
        let suppressed = std::mem::take(&mut self.suppressed);
        Admit::Write { suppressed }
    }
}

/// A line for stderr or a file: UTC time, pid, SQLite's result code, the message.
/// Line breaks inside the message become spaces, so one call is one line.
pub fn format_line(unix_seconds: u64, pid: u32, code: i32, message: &str) -> String {
    format!("{} walguard[{pid}]: ({code}) {}\n", utc_timestamp(unix_seconds), one_line(message))
}

/// The line that reports dropped lines, written before the next line that passes.
pub fn suppressed_message(count: u64) -> String {
    format!("walguard: {count} log line{} dropped by the rate limit", if count == 1 { "" } else { "s" })
}

/// A datagram for the local syslog socket (RFC 3164 without the timestamp, which the
/// syslog daemon adds): facility user, a severity from SQLite's result code.
pub fn format_syslog(pid: u32, code: i32, message: &str) -> String {
    format!("<{}>walguard[{pid}]: ({code}) {}", 8 + syslog_severity(code), one_line(message))
}

/// LOG_NOTICE for SQLITE_NOTICE (27), LOG_WARNING for SQLITE_WARNING (28), LOG_ERR for any
/// other code (the errors: refusals, poisoned WALs, files that cannot be guarded).
pub fn syslog_severity(code: i32) -> u8 {
    match code & 0xff {
        27 => 5,
        28 => 4,
        _ => 3,
    }
}

fn one_line(message: &str) -> String {
    message.replace(['\n', '\r'], " ")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since 1970 (the civil-from-days algorithm).
pub fn utc_timestamp(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let rem = unix_seconds % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn destinations() {
        assert_eq!(parse_destination(b""), Ok(None));
        assert_eq!(parse_destination(b"off"), Ok(None));
        assert_eq!(parse_destination(b"none"), Ok(None));
        assert_eq!(parse_destination(b"stderr"), Ok(Some(Destination::Stderr)));
        assert_eq!(parse_destination(b"syslog"), Ok(Some(Destination::Syslog("/dev/log".into()))));
        assert_eq!(parse_destination(b"syslog:/run/x.sock"), Ok(Some(Destination::Syslog("/run/x.sock".into()))));
        assert_eq!(parse_destination(b"/tmp/walguard.log"), Ok(Some(Destination::File("/tmp/walguard.log".into()))));
        for bad in [&b"STDERR"[..], b"relative.log", b"./x", b"/tmp/dir/", b"syslog:", b"syslog:rel", b"\xff/x", b"file"] {
            assert!(parse_destination(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn warning_is_one_line() {
        let w = fallback_warning("rel", "valid values: stderr");
        assert_eq!(w, "walguard: WALGUARD_LOG='rel': valid values: stderr; logging to stderr instead\n");
        assert_eq!(w.matches('\n').count(), 1);
    }

    #[test]
    fn lines() {
        assert_eq!(
            format_line(1_796_313_600, 42, 1, "walguard: refused\njournal_mode=DELETE"),
            "2026-12-03T16:00:00Z walguard[42]: (1) walguard: refused journal_mode=DELETE\n"
        );
        assert_eq!(format_syslog(7, 28, "kept WAL"), "<12>walguard[7]: (28) kept WAL");
        assert_eq!(format_syslog(7, 27, "adopted"), "<13>walguard[7]: (27) adopted");
        assert_eq!(format_syslog(7, 778, "refused write"), "<11>walguard[7]: (778) refused write");
        assert_eq!(suppressed_message(1), "walguard: 1 log line dropped by the rate limit");
        assert_eq!(suppressed_message(5), "walguard: 5 log lines dropped by the rate limit");
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(utc_timestamp(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn burst_then_one_a_second_and_the_drops_reported() {
        let mut limiter = RateLimiter::new(3, Duration::from_secs(1));
        let t = Duration::from_millis;
        assert_eq!(limiter.admit(t(0)), Admit::Write { suppressed: 0 });
        assert_eq!(limiter.admit(t(1)), Admit::Write { suppressed: 0 });
        assert_eq!(limiter.admit(t(2)), Admit::Write { suppressed: 0 });
        for ms in 3..1000 {
            assert_eq!(limiter.admit(t(ms)), Admit::Drop);
        }
        assert_eq!(limiter.admit(t(1000)), Admit::Write { suppressed: 997 });
        assert_eq!(limiter.admit(t(1500)), Admit::Drop);
        assert_eq!(limiter.admit(t(2000)), Admit::Write { suppressed: 1 });
        // A quiet spell refills the burst, no more.
        assert_eq!(limiter.admit(t(60_000)), Admit::Write { suppressed: 0 });
        assert_eq!(limiter.admit(t(60_001)), Admit::Write { suppressed: 0 });
        assert_eq!(limiter.admit(t(60_002)), Admit::Write { suppressed: 0 });
        assert_eq!(limiter.admit(t(60_003)), Admit::Drop);
    }

    proptest! {
        /// However lines arrive, at most BURST + elapsed/EVERY are written, every line is
        /// either written or counted in a later report, and a line a period after a quiet
        /// spell always passes.
        #[test]
        fn never_more_than_the_rate(gaps in proptest::collection::vec(0u64..3_000, 1..400)) {
            let mut limiter = RateLimiter::new(RateLimiter::BURST, RateLimiter::EVERY);
            let (mut now, mut written, mut reported, mut dropped) = (0u64, 0u64, 0u64, 0u64);
            for gap in gaps {
                now += gap;
                match limiter.admit(Duration::from_millis(now)) {
                    Admit::Write { suppressed } => { written += 1; reported += suppressed; }
                    Admit::Drop => dropped += 1,
                }
                prop_assert!(written <= u64::from(RateLimiter::BURST) + now / 1000);
            }
            prop_assert!(reported <= dropped);
            if let Admit::Write { suppressed } = limiter.admit(Duration::from_millis(now + 1000)) {
                prop_assert_eq!(reported + suppressed, dropped);
            } else {
                prop_assert!(false, "a line a full period after the last was dropped");
            }
        }
    }
}
