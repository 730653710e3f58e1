//! # walguard-hold: keep WAL databases in WAL against processes that never load walguard
//!
//! SQLite leaves WAL only with an EXCLUSIVE lock on the database file, taken once, with no
//! busy handler; and a connection in WAL mode that has read keeps a SHARED lock on the file
//! until it closes. So one idle WAL connection, kept open by a process that does nothing
//! else, makes every other process's `PRAGMA journal_mode=<rollback mode>` fail with
//! `database is locked`, whatever library it uses, while reads, writes and checkpoints of
//! every mode go on as before.
//!
//! `walguard-hold DB...` keeps one such connection per database: opened read-write, one
//! read (`PRAGMA schema_version`, which reads the header and no schema), never inside a
//! transaction, `query_only` on. Only files that are already WAL are held; `--ensure-wal`
//! also switches new and rollback-mode files to WAL. Every poll interval it `stat`s each
//! path: a file that was deleted, or replaced by another (a rename over it, a new inode), is
//! released and the new one attached. One log line per event goes to stderr. SIGTERM and
//! SIGINT close every connection and exit 0.
//!
//! `walguard-hold --status [DB...]` answers from the kernel's lock table (`/proc/locks`),
//! not from a state file: a file is held when a running `walguard-hold` process owns a
//! SHARED lock on the inode the path names now. So the answer is the protection itself, and
//! it is right after a crash, a SIGKILL or a replaced file.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// SQLite's unix VFS takes a SHARED lock as a read lock on these bytes
/// (`SHARED_FIRST` = `PENDING_BYTE` + 2, `SHARED_SIZE` = 510).
const SHARED_FIRST: u64 = 0x4000_0002;
const SHARED_LAST: u64 = SHARED_FIRST + 510 - 1;
/// What the kernel reports as the holder's `comm` (its executable's name).
const COMM: &str = "walguard-hold";
const MISSING: &str = "it does not exist; waiting for it to appear (--ensure-wal creates it)";

const USAGE: &str = "\
usage: walguard-hold [--ensure-wal] [--interval SECONDS] DB...
       walguard-hold --status [DB...]

Keeps one idle WAL connection open on each DB, so that no other process can take it out of
WAL mode (its PRAGMA journal_mode=DELETE|TRUNCATE|PERSIST|MEMORY|OFF fails with 'database is
locked'); reads, writes and checkpoints are not affected.

  --ensure-wal        also switch a DB that is new or in a rollback mode to WAL
                      (without it, only files that are already WAL are held)
  --interval SECONDS  how often to check for deleted or replaced files (default 1)
  --status            which DBs a running walguard-hold holds (from /proc/locks);
                      exit 0 when every named DB is held (or, with no DB, when a holder runs)
";

fn log(message: &str) {
    eprintln!("walguard-hold: {message}");
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut ensure_wal = false;
    let mut status = false;
    let mut interval = Duration::from_secs(1);
    let mut paths = Vec::new();
    let mut only_paths = false;
    args.reverse();
    while let Some(arg) = args.pop() {
        if only_paths {
            paths.push(PathBuf::from(arg));
            continue;
        }
        match arg.to_str() {
            Some("--ensure-wal") => ensure_wal = true,
            Some("--status") => status = true,
            Some("--interval") => {
                let value = args.pop().and_then(|v| v.to_str().and_then(|v| v.parse::<f64>().ok()));
                match value {
                    Some(s) if s > 0.0 && s < 86_400.0 => interval = Duration::from_secs_f64(s),
                    _ => {
                        return usage_error("--interval needs a number of seconds (0 < s < 86400)");
                    }
                }
            }
            Some("-h" | "--help") => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some("--version") => {
                println!("walguard-hold {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Some("--") => only_paths = true,
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return usage_error(&format!("unknown option {s}"));
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let paths = match absolute(paths) {
        Ok(paths) => paths,
        Err(e) => return usage_error(&format!("cannot resolve the current directory: {e}")),
    };
    if status {
        return if paths.is_empty() { status_all() } else { status_of(&paths) };
    }
    if paths.is_empty() {
        return usage_error("no database named");
    }
    hold(paths, ensure_wal, interval)
}

fn usage_error(message: &str) -> ExitCode {
    eprint!("walguard-hold: {message}\n{USAGE}");
    ExitCode::from(2)
}

/// Absolute paths, in order, each once. Not canonicalised: a path that is a symlink is
/// followed at every check, so retargeting it counts as a replacement.
fn absolute(paths: Vec<PathBuf>) -> io::Result<Vec<PathBuf>> {
    let cwd = std::env::current_dir()?;
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        let p = if p.is_absolute() { p } else { cwd.join(p) };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// What a file is

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Missing,
    /// Zero bytes: SQLite's new database.
    Empty,
    Wal,
    Rollback,
    /// A SQLite header with other version bytes.
    Other(u8, u8),
    NotDatabase,
}

fn kind_of(path: &Path) -> io::Result<Kind> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Kind::Missing),
        Err(e) => return Err(e),
    };
    let mut header = [0u8; 100];
    let mut n = 0;
    while n < header.len() {
        match file.read(&mut header[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(match n {
        0 => Kind::Empty,
        100 if &header[..16] == b"SQLite format 3\0" => match (header[18], header[19]) {
            (2, 2) => Kind::Wal,
            (1, 1) => Kind::Rollback,
            (w, r) => Kind::Other(w, r),
        },
        _ => Kind::NotDatabase,
    })
}

fn describe(kind: Kind) -> String {
    match kind {
        Kind::Missing => "does not exist".into(),
        Kind::Empty => "is an empty (new) database, not WAL yet".into(),
        Kind::Wal => "is WAL".into(),
        Kind::Rollback => "is in a rollback-journal mode (header 1,1)".into(),
        Kind::Other(w, r) => format!("has header bytes 18,19 = {w},{r}, neither WAL nor rollback"),
        Kind::NotDatabase => "is not a SQLite database".into(),
    }
}

// ---------------------------------------------------------------------------------------
// Holding

struct Held {
    conn: Connection,
    dev: u64,
    ino: u64,
}

struct Target {
    path: PathBuf,
    held: Option<Held>,
    /// The last line logged about this file while it is not held, so a state is logged once.
    last: String,
}

fn hold(paths: Vec<PathBuf>, ensure_wal: bool, interval: Duration) -> ExitCode {
    let signals = match Signals::block() {
        Ok(s) => s,
        Err(e) => {
            log(&format!("cannot block SIGTERM and SIGINT: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut targets: Vec<Target> = paths.into_iter().map(|path| Target { path, held: None, last: String::new() }).collect();
    let mut held_inodes: Vec<(u64, u64)> = Vec::new();
    loop {
        held_inodes.clear();
        for t in &targets {
            if let Some(h) = &t.held {
                held_inodes.push((h.dev, h.ino));
            }
        }
        for t in &mut targets {
            check(t, ensure_wal, &mut held_inodes);
        }
        let deadline = Instant::now() + interval;
        if let Some(signal) = signals.wait_until(deadline) {
            let n = targets.iter().filter(|t| t.held.is_some()).count();
            log(&format!("{signal}: releasing {n} held file(s), exiting"));
            for t in &mut targets {
                if let Some(h) = t.held.take() {
                    release(&t.path, h);
                }
            }
            return ExitCode::SUCCESS;
        }
    }
}

fn release(path: &Path, held: Held) {
    if let Err((_, e)) = held.conn.close() {
        log(&format!("closing {}: {e}", path.display()));
    }
}

fn check(t: &mut Target, ensure_wal: bool, held_inodes: &mut Vec<(u64, u64)>) {
    let path = t.path.clone();
    if let Some(h) = &t.held {
        match fs::metadata(&path) {
            // The held inode cannot be reused by another file while our connection keeps it
            // open, so an equal (dev, ino) is the same file.
            Ok(m) if (m.dev(), m.ino()) == (h.dev, h.ino) => return,
            Ok(m) => {
                let (old, new) = (h.ino, m.ino());
                let h = t.held.take().unwrap();
                held_inodes.retain(|&x| x != (h.dev, h.ino));
                release(&path, h);
                t.last = format!("{} was replaced (inode {old} -> {new}): released the old file", path.display());
                log(&t.last);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let h = t.held.take().unwrap();
                held_inodes.retain(|&x| x != (h.dev, h.ino));
                release(&path, h);
                log(&format!("{} was deleted: released; waiting for it to reappear", path.display()));
                // What the next checks will find, already said: not logged again.
                t.last = format!("not holding {}: {MISSING}", path.display());
                return;
            }
            // A transient error (say EACCES on a parent while permissions change): keep holding.
            Err(_) => return,
        }
    }
    match attach(&path, ensure_wal, held_inodes) {
        Ok(held) => {
            let converted = if held.1 { " (switched to WAL)" } else { "" };
            log(&format!("holding {} (inode {}){converted}", path.display(), held.0.ino));
            held_inodes.push((held.0.dev, held.0.ino));
            t.held = Some(held.0);
            t.last.clear();
        }
        Err(why) => {
            let line = format!("not holding {}: {why}", path.display());
            if line != t.last {
                log(&line);
                t.last = line;
            }
        }
    }
}

/// Opens, reads once and checks one file. Ok((held, switched_to_wal)) or why not.
///
/// Never open (and so never close) a file this process already holds under another path:
/// closing any descriptor of a file drops every POSIX lock the process has on it, SQLite's
/// SHARED lock included. For the same reason the header is read with our own descriptor
/// only before SQLite opens the file.
fn attach(path: &Path, ensure_wal: bool, held_inodes: &[(u64, u64)]) -> Result<(Held, bool), String> {
    if let Ok(m) = fs::metadata(path) {
        if held_inodes.contains(&(m.dev(), m.ino())) {
            return Err("it is the same file as another path already held".into());
        }
    }
    let kind = kind_of(path).map_err(|e| format!("cannot read it: {e}"))?;
    let convert = match kind {
        Kind::Wal => false,
        Kind::Missing | Kind::Empty | Kind::Rollback if ensure_wal => true,
        Kind::Missing => return Err(MISSING.into()),
        Kind::Empty | Kind::Rollback => {
            return Err(format!("it {}; holding only WAL files (--ensure-wal switches it)", describe(kind)));
        }
        Kind::Other(..) | Kind::NotDatabase => return Err(format!("it {}", describe(kind))),
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if kind == Kind::Missing {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open it: {e}"))?;
    let fail = |what: &str, e: rusqlite::Error| format!("{what}: {e}");
    // As a pragma: rusqlite's busy_timeout() needs sqlite3_set_clientdata (3.44), and the
    // system SQLite may be older (Debian 12: 3.40.1). Short: one busy file must not delay
    // the checks of the others, nor the answer to SIGTERM, by much.
    conn.pragma_update(None, "busy_timeout", 500).map_err(|e| fail("busy_timeout", e))?;
    if conn.is_readonly("main").unwrap_or(false) {
        return Err("it can only be opened read-only (the holder needs write access to the file and its directory)".into());
    }
    if convert {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| fail(&format!("it {}; switching it to WAL failed", describe(kind)), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("it {}; switching it to WAL answered '{mode}'", describe(kind)));
        }
    }
    // The one read: starts and ends a read transaction, which leaves the WAL connection with
    // its SHARED lock on the database file. It reads the header and parses no schema.
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0)).map_err(|e| fail("reading it failed", e))?;
    conn.pragma_update(None, "query_only", true).map_err(|e| fail("query_only", e))?;
    if !conn.is_autocommit() {
        return Err("internal error: the connection is inside a transaction".into());
    }
    // What the connection has open must still be what the path names, and WAL.
    let meta = fs::metadata(path).map_err(|e| format!("it vanished while attaching: {e}"))?;
    let (dev, ino) = (meta.dev(), meta.ino());
    if held_inodes.contains(&(dev, ino)) {
        return Err("it is the same file as another path already held".into());
    }
    // The proof: the kernel's lock table shows this process's SHARED lock on that inode (a
    // rollback-mode connection drops it when its read ends). Without /proc, ask SQLite.
    match proc_locks() {
        Ok(locks) => {
            let me = std::process::id() as i64;
            if !locks.iter().any(|l| l.pid == me && l.is_shared_on(dev, ino)) {
                return Err("no SHARED lock is held after the read (the file changed while attaching?)".into());
            }
        }
        Err(_) => {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(|e| fail("PRAGMA journal_mode", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(format!("its connection is in journal_mode {mode}, not WAL"));
            }
        }
    }
    Ok((Held { conn, dev, ino }, convert))
}

// ---------------------------------------------------------------------------------------
// Signals: SIGTERM and SIGINT are blocked and waited for with sigtimedwait, which doubles
// as the poll interval's sleep; no handler runs, so nothing async-signal-unsafe can happen.

struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    fn block() -> io::Result<Signals> {
        // SAFETY: plain libc calls on a local sigset_t; no threads exist yet.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Signals { set })
        }
    }

    /// The name of a signal received before `deadline`, or None at the deadline.
    fn wait_until(&self, deadline: Instant) -> Option<&'static str> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long };
            // SAFETY: valid pointers to a local sigset_t and timespec.
            let sig = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &timeout) };
            match sig {
                libc::SIGTERM => return Some("SIGTERM"),
                libc::SIGINT => return Some("SIGINT"),
                _ if Instant::now() >= deadline => return None,
                _ => {} // EINTR (say SIGCONT after a stop): wait for the rest
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Status, from the kernel's lock table

struct Lock {
    pid: i64,
    major: u32,
    minor: u32,
    ino: u64,
    start: u64,
    end: u64,
    read: bool,
}

impl Lock {
    fn is_shared_on(&self, dev: u64, ino: u64) -> bool {
        self.read
            && self.ino == ino
            && (self.major, self.minor) == (libc::major(dev), libc::minor(dev))
            && self.start <= SHARED_FIRST
            && self.end >= SHARED_LAST
    }
}

/// POSIX locks from `/proc/locks`, lines like
/// `1: POSIX  ADVISORY  READ 4242 08:02:1234567 1073741826 1073742335`; blocked requests
/// (`1: -> POSIX ...`) are not locks yet and are skipped.
///
/// The kernel walks its lock list again at each `read`, from the index where the last one
/// stopped; when locks elsewhere come and go in between (other processes, other containers:
/// their lines are hidden from us but still counted), a line can be skipped, never invented.
/// So: large reads (each one is a consistent walk of up to a page of lines), and the union
/// of three passes. Duplicates do no harm to the callers, which only ask "is there one".
fn proc_locks() -> io::Result<Vec<Lock>> {
    let mut locks = Vec::new();
    for pass in 0..3 {
        if pass > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut file = fs::File::open("/proc/locks")?;
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0;
        loop {
            if n == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match file.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        locks.extend(String::from_utf8_lossy(&buf[..n]).lines().filter_map(parse_lock));
    }
    Ok(locks)
}

fn parse_lock(line: &str) -> Option<Lock> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 || f[1] != "POSIX" {
        return None;
    }
    let mut id = f[5].split(':');
    let major = u32::from_str_radix(id.next()?, 16).ok()?;
    let minor = u32::from_str_radix(id.next()?, 16).ok()?;
    let ino = id.next()?.parse().ok()?;
    Some(Lock {
        pid: f[4].parse().ok()?,
        major,
        minor,
        ino,
        start: f[6].parse().ok()?,
        end: if f[7] == "EOF" { u64::MAX } else { f[7].parse().ok()? },
        read: f[3] == "READ",
    })
}

/// Pids of running processes named walguard-hold.
fn holders() -> Vec<i64> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i64> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
        .filter(|&pid| pid != std::process::id() as i64)
        .filter(|pid| fs::read_to_string(format!("/proc/{pid}/comm")).map(|c| c.trim_end() == COMM).unwrap_or(false))
        .collect();
    pids.sort_unstable();
    pids
}

fn status_of(paths: &[PathBuf]) -> ExitCode {
    let locks = match proc_locks() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("walguard-hold: cannot read /proc/locks: {e}");
            return ExitCode::FAILURE;
        }
    };
    let holders = holders();
    let mut all = true;
    for path in paths {
        let line = match fs::metadata(path) {
            Err(e) => format!("not held  {}: {e}", path.display()),
            Ok(m) => {
                let by: Vec<String> = holders
                    .iter()
                    .filter(|&&pid| locks.iter().any(|l| l.pid == pid && l.is_shared_on(m.dev(), m.ino())))
                    .map(|pid| pid.to_string())
                    .collect();
                if by.is_empty() {
                    let what = kind_of(path).map(describe).unwrap_or_else(|e| format!("cannot be read: {e}"));
                    format!("not held  {}: it {what}; no walguard-hold has it open", path.display())
                } else {
                    format!("held      {} (inode {}) by walguard-hold pid {}", path.display(), m.ino(), by.join(", "))
                }
            }
        };
        all &= line.starts_with("held");
        println!("{line}");
    }
    if all { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn status_all() -> ExitCode {
    let holders = holders();
    if holders.is_empty() {
        println!("no walguard-hold is running");
        return ExitCode::FAILURE;
    }
    let locks = match proc_locks() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("walguard-hold: cannot read /proc/locks: {e}");
            return ExitCode::FAILURE;
        }
    };
    for pid in holders {
        let fds = match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(d) => d,
            Err(e) => {
                println!("walguard-hold pid {pid}: cannot list its files ({e}); run as its user or root, or name the files");
                continue;
            }
        };
        let mut files: Vec<(String, u64)> = Vec::new();
        for fd in fds.filter_map(|e| e.ok()) {
            let (Ok(m), Ok(target)) = (fs::metadata(fd.path()), fs::read_link(fd.path())) else {
                continue;
            };
            if locks.iter().any(|l| l.pid == pid && l.is_shared_on(m.dev(), m.ino())) {
                let name = String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned();
                if !files.iter().any(|(_, ino)| *ino == m.ino()) {
                    files.push((name, m.ino()));
                }
            }
        }
        files.sort();
        println!("walguard-hold pid {pid}: holds {} file(s)", files.len());
        for (name, ino) in files {
            println!("held      {name} (inode {ino})");
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_locks_lines() {
        let l = parse_lock("1: POSIX  ADVISORY  READ 4242 08:02:1234567 1073741826 1073742335").unwrap();
        assert_eq!((l.pid, l.major, l.minor, l.ino, l.read), (4242, 8, 2, 1234567, true));
        assert!(l.start == SHARED_FIRST && l.end == SHARED_LAST);
        assert!(parse_lock("2: -> POSIX  ADVISORY  WRITE 77 00:2a:99 1073741824 1073741824").is_none());
        assert!(parse_lock("3: FLOCK  ADVISORY  WRITE 77 00:2a:99 0 EOF").is_none());
        let l = parse_lock("4: POSIX  ADVISORY  WRITE 77 fd:0a:99 0 EOF").unwrap();
        assert_eq!((l.major, l.minor, l.end, l.read), (0xfd, 0x0a, u64::MAX, false));
    }
}
