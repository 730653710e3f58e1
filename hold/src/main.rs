//! # walguard-hold: keep WAL databases in WAL against processes that never load walguard
//!
//! SQLite leaves WAL only with an EXCLUSIVE lock on the database file, taken once, with no
//! busy handler; and a connection in WAL mode that has read keeps a SHARED lock on the file
//! until it closes. So one idle WAL connection, kept open by a process that does nothing
//! else, makes every other process's `PRAGMA journal_mode=<rollback mode>` fail with
//! `database is locked`, whatever library it uses, while reads, writes and checkpoints of
//! every mode go on as before.
//!
//! `walguard-hold PATH...` keeps one such connection per database: opened read-write, one
//! read (`PRAGMA schema_version`, which reads the header and no schema), never inside a
//! transaction, `query_only` on. Only files that are already WAL are held; `--ensure-wal`
//! also switches new and rollback-mode files named on the command line to WAL. A directory
//! is watched: every WAL database that is or appears in it is held. Every poll interval it
//! `stat`s each path and lists each directory: a file that was deleted, or replaced by
//! another (a rename over it, a new inode), is released and the new one attached. One log
//! line per event goes to stderr, and a failed write there (a reader that went away) is
//! ignored. SIGTERM and SIGINT close every connection and exit 0.
//!
//! `walguard-hold --status [DB...]` answers from the kernel's lock table (`/proc/locks`),
//! not from a state file: a file is held when a running `walguard-hold` process owns a
//! SHARED lock on the inode the path names now. So the answer is the protection itself, and
//! it is right after a crash, a SIGKILL or a replaced file.
//!
//! `walguard-hold status DB...` (see `report.rs`) says whether a database is protected right
//! now: its journal mode, its filesystem, its holder, and every process that has it open.

mod json;
mod locks;
mod report;

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use walguard_core::HeaderFormat;

use json::Json;
use locks::{held_by, holders, proc_locks};

const MISSING: &str = "it does not exist; waiting for it to appear (--ensure-wal creates it)";
/// Said with every file held: why a deliberate conversion fails while the holder runs.
const CONVERT_HINT: &str = "to take it out of WAL on purpose, stop this holder first";

const USAGE: &str = "\
usage: walguard-hold [--ensure-wal] [--interval SECONDS] PATH...
       walguard-hold --status [--json] [DB...]
       walguard-hold status [--json] DB|DIR...
       walguard-hold -h | --help | -V | --version

Keeps one idle WAL connection open on each database, so that no other process can take it
out of WAL mode (its PRAGMA journal_mode=DELETE|TRUNCATE|PERSIST|MEMORY|OFF fails with
'database is locked'); reads, writes and checkpoints are not affected. A deliberate
conversion out of WAL (walguard=off) fails the same way: stop the holder for that file,
convert, start it again.

A PATH is a database file, or a directory: every WAL database in it (and every one that
appears later) is held; files that are not SQLite databases, -wal, -shm and -journal files
are never opened by SQLite. A missing file is waited for; a missing directory is an error.

  --ensure-wal        also switch a DB named on the command line that is new or in a
                      rollback mode to WAL (without it, only files already WAL are held)
  --interval SECONDS  how often to check for new, deleted or replaced files (default 1)
  --status            which DBs a running walguard-hold holds (from /proc/locks);
                      exit 0 when every named DB is held (or, with no DB, when a holder runs)
  status              whether each DB (or each database in DIR) is protected right now:
                      journal mode, filesystem, holder, and every process that has it open
                      with its SQLite and whether walguard is loaded in it; exit 0 when
                      every one is protected, 1 if not
  --json              the --status or status answer as one JSON object on stdout
  -V, --version       the version
";

/// One line on stderr. A failed write (the reader of a pipe went away, a full disk) is
/// ignored: losing a log line must never release the databases, and `eprintln!` panics.
fn log(message: &str) {
    let line = format!("walguard-hold: {message}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Output of the status commands. A closed stdout (`| head`) ends the output, not the process
/// with a panic: the exit code still answers.
fn out(text: &str) {
    let _ = io::stdout().lock().write_all(text.as_bytes());
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().map(|a| a.as_bytes()) == Some(b"status") {
        return report::main(args.split_off(1));
    }
    let mut ensure_wal = false;
    let mut status = false;
    let mut json = false;
    let mut interval = Duration::from_secs(1);
    let mut paths = Vec::new();
    let mut only_paths = false;
    args.reverse();
    while let Some(arg) = args.pop() {
        if only_paths {
            paths.push(arg);
            continue;
        }
        match arg.to_str() {
            Some("--ensure-wal") => ensure_wal = true,
            Some("--status") => status = true,
            Some("--json") => json = true,
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
                out(USAGE);
                return ExitCode::SUCCESS;
            }
            Some("-V" | "--version") => {
                out(&format!("walguard-hold {}\n", env!("CARGO_PKG_VERSION")));
                return ExitCode::SUCCESS;
            }
            Some("--") => only_paths = true,
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return usage_error(&format!("unknown option {s}"));
            }
            _ => paths.push(arg),
        }
    }
    if json && !status {
        return usage_error("--json goes with --status (or the status command)");
    }
    if status {
        let paths = match absolute(paths) {
            Ok(paths) => paths.into_iter().map(|(p, _)| p).collect::<Vec<_>>(),
            Err(e) => return usage_error(&format!("cannot resolve the current directory: {e}")),
        };
        return if paths.is_empty() { status_all(json) } else { status_of(&paths, json) };
    }
    let paths = match absolute(paths) {
        Ok(paths) => paths,
        Err(e) => return usage_error(&format!("cannot resolve the current directory: {e}")),
    };
    if paths.is_empty() {
        return usage_error("no database named");
    }
    let mut watches = Vec::new();
    for (path, trailing_slash) in paths {
        match watch_of(path, trailing_slash) {
            Ok(w) => watches.push(w),
            Err(message) => {
                log(&message);
                return ExitCode::FAILURE;
            }
        }
    }
    hold(watches, ensure_wal, interval)
}

fn usage_error(message: &str) -> ExitCode {
    let _ = io::stderr().lock().write_all(format!("walguard-hold: {message}\n{USAGE}").as_bytes());
    ExitCode::from(2)
}

/// Absolute paths, in order, each once, and whether each was written with a trailing `/`.
/// Not canonicalised: a path that is a symlink is followed at every check, so retargeting it
/// counts as a replacement.
fn absolute(paths: Vec<OsString>) -> io::Result<Vec<(PathBuf, bool)>> {
    let cwd = std::env::current_dir()?;
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    for p in paths {
        let slash = p.as_bytes().ends_with(b"/");
        let p = PathBuf::from(p);
        let p = if p.is_absolute() { p } else { cwd.join(p) };
        if !out.iter().any(|(q, _)| *q == p) {
            out.push((p, slash));
        }
    }
    Ok(out)
}

/// What a command-line path is watched as. A misspelled path must not leave a holder that
/// runs forever holding nothing while its unit shows active: a file is waited for only in
/// a directory that exists, and a directory must exist.
fn watch_of(path: PathBuf, trailing_slash: bool) -> Result<Watch, String> {
    let is_dir = fs::metadata(&path).map(|m| m.is_dir());
    if trailing_slash || matches!(is_dir, Ok(true)) {
        return match is_dir {
            Ok(true) => {
                log(&format!("watching {} for WAL databases", path.display()));
                Ok(Watch::Dir(DirWatch { path, members: Vec::new(), skipped: HashMap::new(), last: String::new() }))
            }
            Ok(false) => Err(format!("cannot watch {}: it is not a directory", path.display())),
            Err(e) => Err(format!("cannot watch {}: {e} (a misspelled path?)", path.display())),
        };
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    match fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(Watch::File(Target::new(path))),
        Ok(_) => Err(format!("cannot hold {}: {} is not a directory (a misspelled path?)", path.display(), parent.display())),
        Err(e) => Err(format!(
            "cannot hold {}: its directory {}: {e} (a misspelled path? a missing file is waited for, a missing directory is not)",
            path.display(),
            parent.display()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// What a file is

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Missing,
    /// A FIFO, a socket, a device or a directory: never opened by SQLite, never read by us
    /// in a way that could block.
    NotRegular(&'static str),
    /// Zero bytes: SQLite's new database.
    Empty,
    Wal,
    Rollback,
    /// A SQLite header that SQLite itself refuses to open (`HeaderFormat::Other`).
    Other(u8),
    NotDatabase,
}

fn type_name(t: fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// The header, as core's parser reads it: the one rule walguard itself applies (byte 19).
fn kind_of(path: &Path) -> io::Result<Kind> {
    match fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok(Kind::NotRegular(type_name(m.file_type()))),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Kind::Missing),
        Err(e) => return Err(e),
    }
    // O_NONBLOCK: should the path be swapped for a FIFO between the stat and the open, the
    // open returns at once instead of waiting for a writer; the fstat below then says so.
    let mut file = match fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Kind::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Kind::NotRegular(type_name(meta.file_type())));
    }
    let mut header = [0u8; 100];
    let mut n = 0;
    while n < header.len() {
        match file.read(&mut header[n..])? {
            0 => break,
            k => n += k,
        }
    }
    if n == 0 {
        return Ok(Kind::Empty);
    }
    Ok(match HeaderFormat::parse(&header[..n]) {
        HeaderFormat::Absent => Kind::NotDatabase,
        HeaderFormat::Wal => Kind::Wal,
        HeaderFormat::Rollback => Kind::Rollback,
        HeaderFormat::Other => Kind::Other(header[19]),
    })
}

fn describe(kind: Kind) -> String {
    match kind {
        Kind::Missing => "does not exist".into(),
        Kind::NotRegular(what) => format!("is {what}, not a regular file (never opened)"),
        Kind::Empty => "is an empty (new) database, not WAL yet".into(),
        Kind::Wal => "is WAL".into(),
        Kind::Rollback => "is in a rollback-journal mode (header byte 19 = 1)".into(),
        Kind::Other(r) => format!("has a SQLite header that SQLite refuses to open (read version {r}, or a malformed page size)"),
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

impl Target {
    fn new(path: PathBuf) -> Target {
        Target { path, held: None, last: String::new() }
    }
}

/// A watched directory: its files that are SQLite databases are targets of their own.
struct DirWatch {
    path: PathBuf,
    members: Vec<Target>,
    /// Files found not to be databases, by name: (inode, size, mtime) when looked at, so
    /// that they are read again only once they change.
    skipped: HashMap<OsString, (u64, u64, i64, i64)>,
    last: String,
}

enum Watch {
    File(Target),
    Dir(DirWatch),
}

/// What one check of a target found.
#[derive(PartialEq)]
enum Outcome {
    Held,
    NotHeld,
    /// The file is gone (deleted, or never there).
    Gone,
}

fn hold(mut watches: Vec<Watch>, ensure_wal: bool, interval: Duration) -> ExitCode {
    let signals = match Signals::block() {
        Ok(s) => s,
        Err(e) => {
            log(&format!("cannot block SIGTERM and SIGINT: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut held_inodes: Vec<(u64, u64)> = Vec::new();
    loop {
        held_inodes.clear();
        for t in watches.iter().flat_map(targets) {
            if let Some(h) = &t.held {
                held_inodes.push((h.dev, h.ino));
            }
        }
        for w in &mut watches {
            match w {
                Watch::File(t) => {
                    check(t, ensure_wal, &mut held_inodes, false);
                }
                Watch::Dir(d) => scan(d, &mut held_inodes),
            }
        }
        let deadline = Instant::now() + interval;
        if let Some(signal) = signals.wait_until(deadline) {
            let n = watches.iter().flat_map(targets).filter(|t| t.held.is_some()).count();
            log(&format!("{signal}: releasing {n} held file(s), exiting"));
            for w in &mut watches {
                for t in targets_mut(w) {
                    if let Some(h) = t.held.take() {
                        release(&t.path, h);
                    }
                }
            }
            return ExitCode::SUCCESS;
        }
    }
}

fn targets(w: &Watch) -> Box<dyn Iterator<Item = &Target> + '_> {
    match w {
        Watch::File(t) => Box::new(std::iter::once(t)),
        Watch::Dir(d) => Box::new(d.members.iter()),
    }
}

fn targets_mut(w: &mut Watch) -> Box<dyn Iterator<Item = &mut Target> + '_> {
    match w {
        Watch::File(t) => Box::new(std::iter::once(t)),
        Watch::Dir(d) => Box::new(d.members.iter_mut()),
    }
}

fn release(path: &Path, held: Held) {
    if let Err((_, e)) = held.conn.close() {
        log(&format!("closing {}: {e}", path.display()));
    }
}

/// The files SQLite keeps beside a database: never databases themselves.
fn is_companion(name: &OsStr) -> bool {
    let name = name.as_bytes();
    [&b"-wal"[..], b"-shm", b"-journal"].iter().any(|s| name.ends_with(s))
}

/// One pass over a watched directory: checks its members, drops the ones that are gone, and
/// adds every new file whose header is a SQLite database's (WAL ones are held; rollback ones
/// are named once and held when they switch). Nothing else is opened by SQLite.
fn scan(d: &mut DirWatch, held_inodes: &mut Vec<(u64, u64)>) {
    let mut i = 0;
    while i < d.members.len() {
        if check(&mut d.members[i], false, held_inodes, true) == Outcome::Gone {
            d.members.remove(i);
        } else {
            i += 1;
        }
    }
    let entries = match fs::read_dir(&d.path) {
        Ok(e) => e,
        Err(e) => {
            let line = format!("cannot list {}: {e}; trying again", d.path.display());
            if line != d.last {
                log(&line);
                d.last = line;
            }
            return;
        }
    };
    d.last.clear();
    let mut names: Vec<OsString> = entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    d.skipped.retain(|name, _| names.contains(name));
    for name in names {
        if is_companion(&name) || d.members.iter().any(|t| t.path.file_name() == Some(&name)) {
            continue;
        }
        let path = d.path.join(&name);
        let Ok(meta) = fs::metadata(&path) else { continue };
        let stamp = (meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec());
        if !meta.is_file() || d.skipped.get(&name) == Some(&stamp) {
            continue;
        }
        match kind_of(&path) {
            Ok(Kind::Wal | Kind::Rollback) => {
                d.skipped.remove(&name);
                let mut t = Target::new(path);
                if check(&mut t, false, held_inodes, true) != Outcome::Gone {
                    d.members.push(t);
                }
            }
            _ => {
                d.skipped.insert(name, stamp);
            }
        }
    }
}

/// Checks one target: keeps it, releases it, or attaches it. `member`: a file found in a
/// watched directory, which is dropped (not waited for) once it is gone.
fn check(t: &mut Target, ensure_wal: bool, held_inodes: &mut Vec<(u64, u64)>, member: bool) -> Outcome {
    let path = t.path.clone();
    if let Some(h) = &t.held {
        match fs::metadata(&path) {
            // The held inode cannot be reused by another file while our connection keeps it
            // open, so an equal (dev, ino) is the same file.
            Ok(m) if (m.dev(), m.ino()) == (h.dev, h.ino) => return Outcome::Held,
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
                if member {
                    log(&format!("{} was deleted: released", path.display()));
                    return Outcome::Gone;
                }
                log(&format!("{} was deleted: released; waiting for it to reappear", path.display()));
                // What the next checks will find, already said: not logged again.
                t.last = format!("not holding {}: {MISSING}", path.display());
                return Outcome::Gone;
            }
            // A transient error (say EACCES on a parent while permissions change): keep holding.
            Err(_) => return Outcome::Held,
        }
    }
    match attach(&path, ensure_wal, held_inodes) {
        Ok(held) => {
            let converted = if held.1 { " (switched to WAL)" } else { "" };
            log(&format!("holding {} (inode {}){converted}; {CONVERT_HINT}", path.display(), held.0.ino));
            held_inodes.push((held.0.dev, held.0.ino));
            t.held = Some(held.0);
            t.last.clear();
            Outcome::Held
        }
        Err(Refusal::Missing) if member => Outcome::Gone,
        Err(why) => {
            let gone = why == Refusal::Missing;
            let line = format!("not holding {}: {}", path.display(), why.text(member));
            if line != t.last {
                log(&line);
                t.last = line;
            }
            if gone { Outcome::Gone } else { Outcome::NotHeld }
        }
    }
}

#[derive(PartialEq)]
enum Refusal {
    Missing,
    /// Empty or in a rollback mode, without --ensure-wal.
    NotWal(Kind),
    Why(String),
}

impl Refusal {
    fn text(&self, member: bool) -> String {
        match self {
            Refusal::Missing => MISSING.into(),
            Refusal::NotWal(kind) if member => format!("it {}; held once it is WAL", describe(*kind)),
            Refusal::NotWal(kind) => format!("it {}; holding only WAL files (--ensure-wal switches it)", describe(*kind)),
            Refusal::Why(s) => s.clone(),
        }
    }
}

impl From<String> for Refusal {
    fn from(s: String) -> Refusal {
        Refusal::Why(s)
    }
}

/// Why SQLite could not open or read a file, when its directory or its `-wal`/`-shm` are the
/// reason: SQLite's own message ("attempt to write a readonly database", "unable to open
/// database file") names neither.
fn explain_access(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    let name = path.file_name()?.to_string_lossy();
    let writable = |p: &Path| -> io::Result<()> {
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `c` is a NUL-terminated path that lives across the call.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if let Err(e) = writable(dir) {
        if e.raw_os_error() == Some(libc::EROFS) {
            return Some(format!(
                "it is on a read-only mount ({}): SQLite cannot open a WAL database read-write there, so there is nothing to hold (and no process can take it out of WAL either)",
                dir.display()
            ));
        }
        let missing: Vec<String> = ["-wal", "-shm"]
            .iter()
            .filter(|s| fs::symlink_metadata(format!("{}{s}", path.display())).is_err())
            .map(|s| format!("{name}{s}"))
            .collect();
        if !missing.is_empty() {
            return Some(format!(
                "its directory {} is not writable by this user (uid {uid}: {e}), and SQLite must create {} there to open a WAL database; give the holder's user write access to the directory, or run it as the database's owner (User= in the unit)",
                dir.display(),
                missing.join(" and ")
            ));
        }
    }
    for s in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{s}", path.display()));
        if p.exists() && writable(&p).is_err() {
            return Some(format!(
                "{} is not writable by this user (uid {uid}); give the holder's user write access to it, or run it as the database's owner",
                p.display()
            ));
        }
    }
    None
}

/// Opens, reads once and checks one file. Ok((held, switched_to_wal)) or why not.
///
/// Never open (and so never close) a file this process already holds under another path:
/// closing any descriptor of a file drops every POSIX lock the process has on it, SQLite's
/// SHARED lock included. For the same reason the header is read with our own descriptor
/// only before SQLite opens the file.
fn attach(path: &Path, ensure_wal: bool, held_inodes: &[(u64, u64)]) -> Result<(Held, bool), Refusal> {
    if let Ok(m) = fs::metadata(path) {
        if held_inodes.contains(&(m.dev(), m.ino())) {
            return Err("it is the same file as another path already held".to_string().into());
        }
    }
    let kind = kind_of(path).map_err(|e| format!("cannot read it: {e}"))?;
    let convert = match kind {
        Kind::Wal => false,
        Kind::Missing | Kind::Empty | Kind::Rollback if ensure_wal => true,
        Kind::Missing => return Err(Refusal::Missing),
        Kind::Empty | Kind::Rollback => return Err(Refusal::NotWal(kind)),
        Kind::Other(..) | Kind::NotDatabase | Kind::NotRegular(_) => return Err(format!("it {}", describe(kind)).into()),
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if kind == Kind::Missing {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let fail = |what: &str, e: rusqlite::Error| -> Refusal {
        match explain_access(path) {
            Some(why) => format!("{why} (SQLite: {what}: {e})").into(),
            None => format!("{what}: {e}").into(),
        }
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| fail("cannot open it", e))?;
    // As a pragma: rusqlite's busy_timeout() needs sqlite3_set_clientdata (3.44), and the
    // system SQLite may be older (Debian 12: 3.40.1). Short: one busy file must not delay
    // the checks of the others, nor the answer to SIGTERM, by much.
    conn.pragma_update(None, "busy_timeout", 500).map_err(|e| fail("busy_timeout", e))?;
    if conn.is_readonly("main").unwrap_or(false) {
        return Err(explain_access(path)
            .unwrap_or_else(|| "it can only be opened read-only (the holder needs write access to the file and its directory)".to_string())
            .into());
    }
    if convert {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| fail(&format!("it {}; switching it to WAL failed", describe(kind)), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("it {}; switching it to WAL answered '{mode}'", describe(kind)).into());
        }
    }
    // The one read: starts and ends a read transaction, which leaves the WAL connection with
    // its SHARED lock on the database file. It reads the header and parses no schema.
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0)).map_err(|e| fail("reading it failed", e))?;
    conn.pragma_update(None, "query_only", true).map_err(|e| fail("query_only", e))?;
    if !conn.is_autocommit() {
        return Err("internal error: the connection is inside a transaction".to_string().into());
    }
    // What the connection has open must still be what the path names, and WAL.
    let meta = fs::metadata(path).map_err(|e| format!("it vanished while attaching: {e}"))?;
    let (dev, ino) = (meta.dev(), meta.ino());
    if held_inodes.contains(&(dev, ino)) {
        return Err("it is the same file as another path already held".to_string().into());
    }
    // The proof: the kernel's lock table shows this process's SHARED lock on that inode (a
    // rollback-mode connection drops it when its read ends). Without /proc, ask SQLite.
    match proc_locks() {
        Ok(locks) => {
            let me = std::process::id() as i64;
            if !locks.iter().any(|l| l.pid == me && l.is_shared_on(dev, ino)) {
                return Err("no SHARED lock is held after the read (the file changed while attaching?)".to_string().into());
            }
        }
        Err(_) => {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(|e| fail("PRAGMA journal_mode", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(format!("its connection is in journal_mode {mode}, not WAL").into());
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
// --status, from the kernel's lock table

fn status_of(paths: &[PathBuf], json: bool) -> ExitCode {
    let locks = match proc_locks() {
        Ok(l) => l,
        Err(e) => {
            log(&format!("cannot read /proc/locks: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let holders = holders();
    let mut all = true;
    let mut text = String::new();
    let mut files = Vec::new();
    for path in paths {
        let (held, inode, by, why) = match fs::metadata(path) {
            Err(e) => (false, None, Vec::new(), e.to_string()),
            Ok(m) => {
                let by = held_by(&holders, &locks, m.dev(), m.ino());
                let why = if by.is_empty() {
                    let what = kind_of(path).map(describe).unwrap_or_else(|e| format!("cannot be read: {e}"));
                    format!("it {what}; no walguard-hold has it open")
                } else {
                    String::new()
                };
                (!by.is_empty(), Some(m.ino()), by, why)
            }
        };
        all &= held;
        if held {
            let pids: Vec<String> = by.iter().map(|p| p.to_string()).collect();
            text += &format!("held      {} (inode {}) by walguard-hold pid {}\n", path.display(), inode.unwrap_or(0), pids.join(", "));
        } else {
            text += &format!("not held  {}: {why}\n", path.display());
        }
        files.push(Json::Obj(vec![
            ("path", Json::str(path.to_string_lossy())),
            ("held", Json::Bool(held)),
            ("inode", inode.map(|i| Json::Num(i as i64)).unwrap_or(Json::Null)),
            ("holders", Json::Arr(by.iter().map(|&p| Json::Num(p)).collect())),
            ("why", if held { Json::Null } else { Json::str(why) }),
        ]));
    }
    if json {
        out(&(Json::Obj(vec![("all_held", Json::Bool(all)), ("files", Json::Arr(files))]).render() + "\n"));
    } else {
        out(&text);
    }
    if all { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn status_all(json: bool) -> ExitCode {
    let holders = holders();
    if holders.is_empty() {
        if json {
            out("{\"holders\":[]}\n");
        } else {
            out("no walguard-hold is running\n");
        }
        return ExitCode::FAILURE;
    }
    let locks = match proc_locks() {
        Ok(l) => l,
        Err(e) => {
            log(&format!("cannot read /proc/locks: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut text = String::new();
    let mut list = Vec::new();
    for pid in holders {
        let fds = match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(d) => d,
            Err(e) => {
                text += &format!("walguard-hold pid {pid}: cannot list its files ({e}); run as its user or root, or name the files\n");
                list.push(Json::Obj(vec![("pid", Json::Num(pid)), ("files", Json::Null), ("error", Json::str(e.to_string()))]));
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
        text += &format!("walguard-hold pid {pid}: holds {} file(s)\n", files.len());
        for (name, ino) in &files {
            text += &format!("held      {name} (inode {ino})\n");
        }
        list.push(Json::Obj(vec![
            ("pid", Json::Num(pid)),
            (
                "files",
                Json::Arr(
                    files.iter().map(|(n, i)| Json::Obj(vec![("path", Json::str(n.clone())), ("inode", Json::Num(*i as i64))])).collect(),
                ),
            ),
            ("error", Json::Null),
        ]));
    }
    if json {
        out(&(Json::Obj(vec![("holders", Json::Arr(list))]).render() + "\n"));
    } else {
        out(&text);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companions_are_never_databases() {
        for name in ["app.db-wal", "app.db-shm", "app.db-journal"] {
            assert!(is_companion(OsStr::new(name)), "{name}");
        }
        for name in ["app.db", "wal", "app.sqlite3", "journal.db"] {
            assert!(!is_companion(OsStr::new(name)), "{name}");
        }
    }
}
