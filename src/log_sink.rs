//! walguard's own log destination: every line `host::log` sends to `sqlite3_log` is also
//! written where `WALGUARD_LOG` says (stderr, syslog, a file; see `walguard_core::log`),
//! rate-limited. Most applications never route `sqlite3_log`, so without this an operator
//! never sees a refusal.
//!
//! The variable is read once per process, at the first line. A value that names no
//! destination, or a destination that cannot be written (no syslog socket, a file that
//! cannot be opened), falls back to stderr with a one-line warning: loading never fails
//! because of it. Writing errors after that are ignored (a log line must never fail a
//! database call). The file is opened for appending at each line, so a rotated file is
//! followed; lines dropped by the rate limit are counted and reported with the next line
//! that passes.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use walguard_core::log::{self as core_log, Admit, Destination, LOG_VAR, RateLimiter};

struct Sink {
    destination: Destination,
    /// Connected once, for syslog.
    socket: Option<UnixDatagram>,
    limiter: RateLimiter,
    start: Instant,
}

static SINK: OnceLock<Option<Mutex<Sink>>> = OnceLock::new();

fn stderr_warning(value: &str, reason: &str) {
    let _ = std::io::stderr().write_all(core_log::fallback_warning(value, reason).as_bytes());
}

fn open_sink() -> Option<Mutex<Sink>> {
    let value = std::env::var_os(LOG_VAR)?;
    let shown = value.to_string_lossy().into_owned();
    let mut destination = match core_log::parse_destination(value.as_encoded_bytes()) {
        Ok(None) => return None,
        Ok(Some(destination)) => destination,
        Err(reason) => {
            stderr_warning(&shown, &reason);
            Destination::Stderr
        }
    };
    let mut socket = None;
    match &destination {
        Destination::Syslog(path) => match UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s)) {
            Ok(s) => socket = Some(s),
            Err(e) => {
                stderr_warning(&shown, &format!("cannot connect to the syslog socket {}: {e}", path.display()));
                destination = Destination::Stderr;
            }
        },
        Destination::File(path) => {
            if let Err(e) = append(path, b"") {
                stderr_warning(&shown, &format!("cannot open {} for appending: {e}", path.display()));
                destination = Destination::Stderr;
            }
        }
        Destination::Stderr => {}
    }
    Some(Mutex::new(Sink { destination, socket, limiter: RateLimiter::new(RateLimiter::BURST, RateLimiter::EVERY), start: Instant::now() }))
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    OpenOptions::new().append(true).create(true).open(path)?.write_all(bytes)
}

impl Sink {
    fn emit(&self, code: i32, message: &str) {
        let pid = std::process::id();
        let _ = match &self.destination {
            Destination::Syslog(_) => match &self.socket {
                Some(socket) => socket.send(core_log::format_syslog(pid, code, message).as_bytes()).map(drop),
                None => Ok(()),
            },
            other => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let line = core_log::format_line(now, pid, code, message);
                match other {
                    Destination::File(path) => append(path, line.as_bytes()),
                    _ => std::io::stderr().write_all(line.as_bytes()),
                }
            }
        };
    }
}

/// Write one of walguard's log lines to its own destination, if `WALGUARD_LOG` names one.
pub fn write(code: i32, message: &str) {
    let Some(sink) = SINK.get_or_init(open_sink) else { return };
    let mut sink = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = sink.start.elapsed();
    if let Admit::Write { suppressed } = sink.limiter.admit(now) {
        if suppressed > 0 {
            // SQLITE_WARNING: the report of dropped lines is not itself an error.
            sink.emit(28, &core_log::suppressed_message(suppressed));
        }
        sink.emit(code, message);
    }
}
