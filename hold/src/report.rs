//! `walguard-hold status DB...`: is this database protected right now?
//!
//! For each path, on this host (this PID namespace): the journal mode its header says, the
//! filesystem it is on and whether WAL is safe there (`walguard_core::fs`), whether a running
//! walguard-hold holds it (the kernel's lock table), and every process that has it open
//! (`/proc/*/fd`), with its command, whether libwalguard is mapped in it (`/proc/PID/maps`),
//! and the SQLite libraries it has mapped, each with its version where the file tells it and
//! whether that version is in the WAL-reset bug's range (`walguard_core::version`).
//!
//! A SQLite library is recognised in a mapped file (the executable, a shared libsqlite3, a
//! module that bundles one) by `SQLITE_SOURCE_ID`, the "date time hash" string every build
//! carries; its version is the one string of the form `3.N.N` in that file that ends with a
//! NUL and does not continue a printable string (`sqlite3_version[]`, what
//! `sqlite3_libversion()` returns). When the file has several such strings the version is
//! reported as unknown rather than guessed.
//!
//! A directory stands for the SQLite databases directly in it (what a holder watching it
//! holds); one with none reports nothing and is not a failure.
//!
//! Protected means: the header says WAL, a walguard-hold holds the file, and the filesystem
//! is one where WAL is safe. Exit 0 when every path is protected, 1 when one is not, 2 on a
//! usage error.

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use walguard_core::fs::{Filesystem, classify};
use walguard_core::version::wal_reset_affected;

use crate::json::Json;
use crate::locks::{self, COMM, held_by, holders, proc_locks};
use crate::{Kind, describe, is_companion, kind_of, log, out};

const USAGE: &str = "usage: walguard-hold status [--json] DB|DIR...\n";

pub fn main(args: Vec<OsString>) -> ExitCode {
    let mut json = false;
    let mut paths = Vec::new();
    let mut only_paths = false;
    for arg in args {
        match arg.to_str() {
            Some("--json") if !only_paths => json = true,
            Some("--") if !only_paths => only_paths = true,
            Some("-h" | "--help") if !only_paths => {
                out(USAGE);
                return ExitCode::SUCCESS;
            }
            Some(s) if !only_paths && s.starts_with('-') && s.len() > 1 => {
                let _ = io::Write::write_all(&mut io::stderr(), format!("walguard-hold status: unknown option {s}\n{USAGE}").as_bytes());
                return ExitCode::from(2);
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        let _ = io::Write::write_all(&mut io::stderr(), format!("walguard-hold status: no database named\n{USAGE}").as_bytes());
        return ExitCode::from(2);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let locks = proc_locks().unwrap_or_else(|e| {
        log(&format!("cannot read /proc/locks ({e}): no file can be shown held"));
        Vec::new()
    });
    let holders = holders();
    let mut scanner = Scanner::default();
    let mut files = Vec::new();
    for p in &paths {
        let p = if p.is_absolute() { p.clone() } else { cwd.join(p) };
        if fs::metadata(&p).is_ok_and(|m| m.is_dir()) {
            files.extend(databases_in(&p));
        } else {
            files.push(p);
        }
    }
    let reports: Vec<Report> = files.iter().map(|p| inspect(p, &locks, &holders, &mut scanner)).collect();
    let all = reports.iter().all(|r| r.protected);
    if json {
        let list = Json::Arr(reports.iter().map(Report::json).collect());
        out(&(Json::Obj(vec![("protected", Json::Bool(all)), ("databases", list)]).render() + "\n"));
    } else {
        for r in &reports {
            out(&r.text());
        }
    }
    if all { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The SQLite databases (WAL or rollback headers) directly in a directory, as the holder
/// watching it sees them: regular files, no -wal, -shm or -journal, sorted by name.
fn databases_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !is_companion(&e.file_name()))
        .map(|e| e.path())
        .filter(|p| matches!(kind_of(p), Ok(Kind::Wal | Kind::Rollback)))
        .collect();
    found.sort();
    found
}

/// One SQLite library found mapped in a process.
#[derive(Clone)]
struct Sqlite {
    path: String,
    version: Option<String>,
    /// "executable" (compiled into the program), "shared library" (a libsqlite3), or
    /// "module" (bundled in a loaded module: APSW, better-sqlite3, ...).
    kind: &'static str,
}

impl Sqlite {
    fn in_bug_range(&self) -> Option<bool> {
        self.version.as_deref().and_then(wal_reset_affected)
    }
}

struct Process {
    pid: i64,
    comm: String,
    cmdline: String,
    holder: bool,
    /// libwalguard.so (or its private copy, a memfd) is mapped.
    walguard: bool,
    /// libwalguard_preload.so is mapped.
    preload: bool,
    sqlite: Vec<Sqlite>,
    /// Why the maps could not be read, if they could not.
    error: Option<String>,
}

impl Process {
    fn walguard_text(&self) -> &'static str {
        match (self.holder, self.walguard, self.preload) {
            (true, _, _) => "holder",
            (_, true, true) => "walguard (preload)",
            (_, true, false) => "walguard loaded",
            (_, false, true) => "preload, SQLite not reached",
            (_, false, false) => "no walguard",
        }
    }

    fn json(&self) -> Json {
        Json::Obj(vec![
            ("pid", Json::Num(self.pid)),
            ("command", Json::str(self.comm.clone())),
            ("cmdline", Json::str(self.cmdline.clone())),
            ("holder", Json::Bool(self.holder)),
            ("walguard_loaded", Json::Bool(self.walguard)),
            ("preload", Json::Bool(self.preload)),
            (
                "sqlite",
                Json::Arr(
                    self.sqlite
                        .iter()
                        .map(|s| {
                            Json::Obj(vec![
                                ("path", Json::str(s.path.clone())),
                                ("kind", Json::str(s.kind)),
                                ("version", Json::opt_str(s.version.clone())),
                                ("wal_reset_bug_range", s.in_bug_range().map(Json::Bool).unwrap_or(Json::Null)),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("error", Json::opt_str(self.error.clone())),
        ])
    }
}

struct Report {
    path: PathBuf,
    kind: Result<Kind, String>,
    header: Option<(u8, u8)>,
    fs: Option<(Filesystem, u64, Option<String>)>,
    holders: Vec<i64>,
    units: Vec<String>,
    processes: Vec<Process>,
    protected: bool,
    reasons: Vec<String>,
    warnings: Vec<String>,
}

fn kind_name(kind: &Result<Kind, String>) -> &'static str {
    match kind {
        Ok(Kind::Wal) => "wal",
        Ok(Kind::Rollback) => "rollback",
        Ok(Kind::Empty) => "empty",
        Ok(Kind::Missing) => "missing",
        Ok(Kind::NotRegular(_)) => "not-a-file",
        Ok(Kind::Other(_)) => "invalid-header",
        Ok(Kind::NotDatabase) => "not-a-database",
        Err(_) => "unreadable",
    }
}

impl Report {
    fn json(&self) -> Json {
        let fs = match &self.fs {
            Some((f, magic, mount)) => Json::Obj(vec![
                ("type", Json::opt_str(mount.clone())),
                ("name", Json::str(f.name)),
                ("magic", Json::str(format!("0x{magic:x}"))),
                ("wal", Json::str(f.wal.as_str())),
                ("wal_safe", Json::Bool(f.wal.is_safe())),
            ]),
            None => Json::Null,
        };
        Json::Obj(vec![
            ("path", Json::str(self.path.to_string_lossy())),
            ("protected", Json::Bool(self.protected)),
            ("journal", Json::str(kind_name(&self.kind))),
            (
                "header_bytes_18_19",
                self.header.map(|(a, b)| Json::Arr(vec![Json::Num(a.into()), Json::Num(b.into())])).unwrap_or(Json::Null),
            ),
            ("filesystem", fs),
            ("held", Json::Bool(!self.holders.is_empty())),
            ("holders", Json::Arr(self.holders.iter().map(|&p| Json::Num(p)).collect())),
            ("holder_units", Json::Arr(self.units.iter().map(|u| Json::str(u.clone())).collect())),
            ("processes", Json::Arr(self.processes.iter().map(Process::json).collect())),
            ("reasons", Json::Arr(self.reasons.iter().map(|r| Json::str(r.clone())).collect())),
            ("warnings", Json::Arr(self.warnings.iter().map(|r| Json::str(r.clone())).collect())),
        ])
    }

    fn text(&self) -> String {
        let mut t = format!("{}: {}\n", self.path.display(), if self.protected { "protected" } else { "NOT protected" });
        let journal = match (&self.kind, self.header) {
            (Ok(Kind::Wal), Some((w, r))) => format!("WAL (header bytes 18,19 = {w},{r})"),
            (Ok(Kind::Rollback), Some((w, r))) => format!("rollback journal (header bytes 18,19 = {w},{r})"),
            (Ok(k), _) => format!("none: it {}", describe(*k)),
            (Err(e), _) => format!("unknown: {e}"),
        };
        t += &format!("  journal mode  {journal}\n");
        match &self.fs {
            Some((f, magic, mount)) => {
                let mount = mount.as_deref().map(|m| format!("{m}, ")).unwrap_or_default();
                let verdict = if f.wal.is_safe() { "WAL is safe here".to_string() } else { format!("WARNING: {}", f.wal.warning()) };
                t += &format!("  filesystem    {} ({mount}magic 0x{magic:x}): {verdict}\n", f.name);
            }
            None => t += "  filesystem    unknown (statfs failed)\n",
        }
        if self.holders.is_empty() {
            t += "  holder        none: no walguard-hold holds it\n";
        } else {
            let pids: Vec<String> = self.holders.iter().map(|p| p.to_string()).collect();
            let how = if self.units.is_empty() {
                format!("kill -TERM {}", pids.join(" "))
            } else {
                format!("systemctl stop {}", self.units.join(" "))
            };
            t += &format!(
                "  holder        walguard-hold pid {} holds it; to take it out of WAL on purpose, stop it first ({how}), convert, start it again\n",
                pids.join(", ")
            );
        }
        let n = self.processes.len();
        t += &format!("  processes     {n} {} it open\n", if n == 1 { "has" } else { "have" });
        for p in &self.processes {
            let sqlite = if let Some(e) = &p.error {
                format!("maps unreadable: {e}")
            } else if p.sqlite.is_empty() {
                "no SQLite library found mapped".to_string()
            } else {
                let libs: Vec<String> = p
                    .sqlite
                    .iter()
                    .map(|s| {
                        let v = s.version.as_deref().map(|v| format!("SQLite {v}")).unwrap_or_else(|| "SQLite (version unknown)".into());
                        let bug = match s.in_bug_range() {
                            Some(true) => ", WAL-reset bug range",
                            Some(false) => "",
                            None => ", WAL-reset bug range unknown",
                        };
                        format!("{v} ({}, {}{bug})", s.kind, s.path)
                    })
                    .collect();
                libs.join("; ")
            };
            t += &format!("    pid {:<7} {:<15} {:<27} {sqlite}\n", p.pid, p.comm, p.walguard_text());
        }
        for r in &self.reasons {
            t += &format!("  not protected: {r}\n");
        }
        for w in &self.warnings {
            t += &format!("  warning: {w}\n");
        }
        t
    }
}

fn inspect(path: &Path, locks: &[locks::Lock], all_holders: &[i64], scanner: &mut Scanner) -> Report {
    let kind = kind_of(path).map_err(|e| e.to_string());
    let header = match kind {
        Ok(Kind::Wal | Kind::Rollback) => read_header_bytes(path),
        _ => None,
    };
    let meta = fs::metadata(path).ok();
    let fs = statfs_magic(path).ok().map(|magic| {
        let mount = meta.as_ref().and_then(|m| mount_type(m.dev()));
        (classify(magic, mount.as_deref()), magic, mount)
    });
    let holders = meta.as_ref().map(|m| held_by(all_holders, locks, m.dev(), m.ino())).unwrap_or_default();
    let units: Vec<String> =
        holders.iter().filter_map(|&pid| fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()).filter_map(|c| unit_of(&c)).collect();
    let processes = meta.as_ref().map(|m| scanner.openers(m.dev(), m.ino(), &holders)).unwrap_or_default();

    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    match &kind {
        Ok(Kind::Wal) => {}
        Ok(k) => reasons.push(format!("it is not a WAL database: it {}", describe(*k))),
        Err(e) => reasons.push(format!("it cannot be read: {e}")),
    }
    if holders.is_empty() {
        reasons.push(
            "no walguard-hold holds it: a process that does not load walguard can take it out of WAL whenever it is the only one with the file open"
                .into(),
        );
    }
    if let Some((f, _, _)) = &fs {
        if !f.wal.is_safe() {
            reasons.push(f.wal.warning().to_string());
        }
    }
    for p in &processes {
        if p.holder {
            continue;
        }
        if !p.walguard {
            warnings.push(format!(
                "pid {} ({}) has it open without walguard: only {} stops it from leaving WAL",
                p.pid,
                p.comm,
                if holders.is_empty() { "a holder (none runs)" } else { "the holder" }
            ));
        }
        for s in &p.sqlite {
            if s.in_bug_range() == Some(true) && !p.walguard {
                warnings.push(format!(
                    "pid {} ({}) uses SQLite {} ({}), in the WAL-reset bug range (3.7.0 to 3.51.2) without walguard's mitigation: its checkpoints can corrupt the database while others write; upgrade it to 3.51.3 or later, or load walguard in it",
                    p.pid,
                    p.comm,
                    s.version.as_deref().unwrap_or("?"),
                    s.path
                ));
            }
        }
    }
    Report { path: path.to_path_buf(), protected: reasons.is_empty(), kind, header, fs, holders, units, processes, reasons, warnings }
}

fn read_header_bytes(path: &Path) -> Option<(u8, u8)> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).ok()?;
    let mut h = [0u8; 20];
    f.read_exact(&mut h).ok()?;
    Some((h[18], h[19]))
}

fn statfs_magic(path: &Path) -> io::Result<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: an all-zero statfs is a valid value of the plain C struct, filled in below.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` a valid, writable statfs for the call.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // f_type is a signed word on some ABIs: the kernel's magic is its low 32 bits.
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as u64 & 0xFFFF_FFFF)
}

/// The type `/proc/self/mountinfo` gives the mount of device `dev` (`ext4`, `tmpfs`,
/// `fuse.bindfs`, `virtiofs`, `nfs4`, ...); the last such mount wins, as it is the one on top.
fn mount_type(dev: u64) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_type_in(&info, libc::major(dev), libc::minor(dev))
}

fn mount_type_in(info: &str, major: u32, minor: u32) -> Option<String> {
    let want = format!("{major}:{minor}");
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (left.split_whitespace().nth(2)? == want).then(|| right.split_whitespace().next().map(str::to_string))?
        })
        .next_back()
}

/// The systemd unit a process runs in, from its `/proc/PID/cgroup`, when it is a
/// walguard-hold instance (`walguard-hold@srv-app-app.db.service`).
fn unit_of(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .flat_map(|l| l.rsplit(':').next().unwrap_or("").split('/'))
        .find(|seg| seg.starts_with("walguard-hold") && seg.ends_with(".service"))
        .map(str::to_string)
}

/// Looks through /proc, remembering what it learnt of each mapped file.
#[derive(Default)]
struct Scanner {
    /// (dev, ino) of a mapped file -> the SQLite version it holds (Some(None): SQLite, no
    /// version told), or None when it holds no SQLite.
    files: HashMap<(u64, u64), Option<Option<String>>>,
}

impl Scanner {
    /// Every process (but this one) with a descriptor on (dev, ino).
    fn openers(&mut self, dev: u64, ino: u64, holders: &[i64]) -> Vec<Process> {
        let me = std::process::id() as i64;
        let mut found = Vec::new();
        for pid in locks::pids() {
            if pid == me {
                continue;
            }
            let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
            let has =
                fds.filter_map(|e| e.ok()).any(|fd| fs::metadata(fd.path()).map(|m| (m.dev(), m.ino()) == (dev, ino)).unwrap_or(false));
            if has {
                found.push(self.process(pid, holders));
            }
        }
        found
    }

    fn process(&mut self, pid: i64, holders: &[i64]) -> Process {
        let comm = locks::comm(pid).unwrap_or_default();
        let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                let s: Vec<String> =
                    c.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
                let s = s.join(" ");
                if s.chars().count() > 200 { s.chars().take(200).collect::<String>() + "..." } else { s }
            })
            .unwrap_or_default();
        let mut p = Process {
            pid,
            holder: holders.contains(&pid) && comm == COMM,
            comm,
            cmdline,
            walguard: false,
            preload: false,
            sqlite: Vec::new(),
            error: None,
        };
        let maps = match fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(m) => m,
            Err(e) => {
                p.error = Some(e.to_string());
                return p;
            }
        };
        let exe = fs::metadata(format!("/proc/{pid}/exe")).ok().map(|m| (m.dev(), m.ino()));
        let mut seen: Vec<(u64, u64)> = Vec::new();
        for line in maps.lines() {
            let Some(m) = parse_maps_line(line) else { continue };
            let base = m.path.rsplit('/').next().unwrap_or("");
            if base.starts_with("libwalguard_preload") {
                p.preload = true;
            } else if base.starts_with("libwalguard.so") || base.starts_with("walguard.so") || m.path.starts_with("/memfd:walguard") {
                p.walguard = true;
            }
            if !m.exec || m.ino == 0 || seen.contains(&(m.dev, m.ino)) {
                continue;
            }
            seen.push((m.dev, m.ino));
            let version = match self.files.get(&(m.dev, m.ino)) {
                Some(v) => v.clone(),
                None => {
                    let v = sqlite_in_file(m.path, pid, m.range);
                    self.files.insert((m.dev, m.ino), v.clone());
                    v
                }
            };
            if let Some(version) = version {
                // By inode alone: a mapped file of another device with the executable's inode
                // number would be misnamed "executable"; its SQLite is still reported.
                let is_exe = exe.is_some_and(|(_, ino)| ino == m.ino);
                let kind = if is_exe {
                    "executable"
                } else if base.starts_with("libsqlite3") {
                    "shared library"
                } else {
                    "module"
                };
                p.sqlite.push(Sqlite { path: m.path.to_string(), version, kind });
            }
        }
        p
    }
}

struct MapsLine<'a> {
    range: &'a str,
    exec: bool,
    dev: u64,
    ino: u64,
    path: &'a str,
}

/// `7f12...-7f34... r-xp 00002000 fd:01 1234567   /usr/lib/libsqlite3.so.0.8.6`
fn parse_maps_line(line: &str) -> Option<MapsLine<'_>> {
    let mut f = line.splitn(6, ' ');
    let range = f.next()?;
    let perms = f.next()?;
    let _offset = f.next()?;
    let dev = f.next()?;
    let ino: u64 = f.next()?.parse().ok()?;
    let path = f.next()?.trim_start();
    if path.is_empty() || path.starts_with('[') {
        return None;
    }
    let (major, minor) = dev.split_once(':')?;
    let dev = libc::makedev(u32::from_str_radix(major, 16).ok()?, u32::from_str_radix(minor, 16).ok()?);
    Some(MapsLine { range, exec: perms.contains('x'), dev, ino, path })
}

/// Files larger than this are not read (no SQLite build comes near it).
const MAX_SCAN: u64 = 1 << 30;

/// Does this mapped file contain SQLite? Some(version) if it does (None inside: it does
/// not say which), None if it does not or cannot be read. The file is read through its
/// path, or through `/proc/PID/map_files` when the path is gone (a deleted file, a memfd).
fn sqlite_in_file(path: &str, pid: i64, range: &str) -> Option<Option<String>> {
    let direct = path.strip_suffix(" (deleted)").unwrap_or(path);
    let small = |p: &Path| fs::metadata(p).map(|m| m.is_file() && m.len() <= MAX_SCAN).unwrap_or(false);
    let data = if !path.ends_with(" (deleted)") && small(Path::new(direct)) {
        fs::read(direct).ok()?
    } else {
        let via = PathBuf::from(format!("/proc/{pid}/map_files/{range}"));
        if !small(&via) {
            return None;
        }
        fs::read(via).ok()?
    };
    sqlite_in_bytes(&data)
}

/// The test on a file's bytes: a `SQLITE_SOURCE_ID` ("YYYY-MM-DD HH:MM:SS " and at least 40
/// hex digits) says SQLite is compiled in; the one `3.N.N` string that ends with a NUL and
/// does not continue a printable string is its version (`sqlite3_version[]`: in a shared
/// libsqlite3 it follows another string's NUL, in bundles such as APSW and better-sqlite3 the
/// last byte of a data table).
fn sqlite_in_bytes(data: &[u8]) -> Option<Option<String>> {
    if !has_source_id(data) {
        return None;
    }
    let mut versions: Vec<&str> = Vec::new();
    for i in 0..data.len().saturating_sub(6) {
        // A string of its own: not the tail of a printable one ("version-3.54.1", "v3.40.1").
        if data[i] != b'3' || data[i + 1] != b'.' || (i > 0 && (0x20..=0x7e).contains(&data[i - 1])) {
            continue;
        }
        let tail = &data[i..data.len().min(i + 10)];
        let Some(end) = tail.iter().position(|&b| b == 0) else { continue };
        if let Ok(s) = std::str::from_utf8(&tail[..end]) {
            if walguard_core::version::version_number(s).is_some() {
                versions.push(s);
            }
        }
    }
    versions.sort_unstable();
    versions.dedup();
    Some(if versions.len() == 1 { Some(versions[0].to_string()) } else { None })
}

fn has_source_id(data: &[u8]) -> bool {
    const SHAPE: &[u8; 20] = b"dddd-dd-dd dd:dd:dd ";
    let fits = |w: &[u8]| {
        w.iter().zip(SHAPE.iter()).all(|(&b, &s)| if s == b'd' { b.is_ascii_digit() } else { b == s })
            && w[20..60].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    };
    let mut i = 4;
    while i + 56 <= data.len() {
        // Cheap rejects first: the two dashes of the date.
        if data[i] == b'-' && data[i + 3] == b'-' && fits(&data[i - 4..i + 56]) {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sqlite_and_its_version_in_bytes() {
        let mut lib = b"\x7fELF junk\x003.40.1\x00more\x00".to_vec();
        lib.extend_from_slice(b"2022-12-28 14:03:47 df5c253c0b3dd24916e4ec7cf77d3db5294cc9fd45ae7b9c5e82ad8197f3alt1\x00");
        assert_eq!(sqlite_in_bytes(&lib), Some(Some("3.40.1".to_string())));
        // APSW's layout: the version after a table's last byte; "3.54.1.0" and
        // "version-3.54.1" are other strings.
        let mut apsw = b"<apsw.no_change>\x003.54.1.0\x00release version-3.54.1\x00\x01\x00\x013.54.1\x00\x00".to_vec();
        apsw.extend_from_slice(b"2026-10-16 14:45:20 555e07ef33f69a0957d2555e07ef33f69a0957d2555e07ef\x00");
        assert_eq!(sqlite_in_bytes(&apsw), Some(Some("3.54.1".to_string())));
        // Two candidates: not guessed.
        let mut two = lib.clone();
        two.extend_from_slice(b"3.0.19\x00");
        assert_eq!(sqlite_in_bytes(&two), Some(None));
        // No source id: no SQLite, whatever version-like strings it has.
        assert_eq!(sqlite_in_bytes(b"\x003.40.1\x00SQLite format 3\x00"), None);
        // A date and time without the hash is not a source id.
        assert_eq!(sqlite_in_bytes(b"\x003.40.1\x002022-12-28 14:03:47 not-a-hash-at-all-not-a-hash-at-all-xxxxxxxx\x00"), None);
    }

    #[test]
    fn parses_maps_lines() {
        let m = parse_maps_line(
            "7f1234560000-7f1234580000 r-xp 00002000 fd:01 1234567                    /usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6",
        )
        .unwrap();
        assert!(m.exec);
        assert_eq!((libc::major(m.dev), libc::minor(m.dev), m.ino), (0xfd, 1, 1234567));
        assert_eq!(m.path, "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6");
        assert_eq!(m.range, "7f1234560000-7f1234580000");
        let m = parse_maps_line("7f00-7f10 r--p 00000000 00:01 2048 /memfd:walguard (deleted)").unwrap();
        assert!(!m.exec && m.path == "/memfd:walguard (deleted)");
        assert!(parse_maps_line("7ffd-7ffe rw-p 00000000 00:00 0                          [stack]").is_none());
        assert!(parse_maps_line("7ffd-7ffe rw-p 00000000 00:00 0 ").is_none());
    }

    #[test]
    fn finds_the_mount_type_of_a_device() {
        let info = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 22 0:45 / /mnt/t rw - tmpfs none rw
41 22 0:46 / /mnt/f rw,nosuid shared:9 - fuse.bindfs bindfs rw,user_id=0
42 40 0:45 / /mnt/t2 rw - tmpfs none rw
";
        assert_eq!(mount_type_in(info, 254, 0).as_deref(), Some("ext4"));
        assert_eq!(mount_type_in(info, 0, 46).as_deref(), Some("fuse.bindfs"));
        assert_eq!(mount_type_in(info, 0, 45).as_deref(), Some("tmpfs"));
        assert_eq!(mount_type_in(info, 9, 9), None);
    }

    #[test]
    fn finds_a_holder_unit_in_a_cgroup_file() {
        let v2 = "0::/system.slice/system-walguard\\x2dhold.slice/walguard-hold@srv-app-app.db.service\n";
        assert_eq!(unit_of(v2).as_deref(), Some("walguard-hold@srv-app-app.db.service"));
        let v1 = "12:pids:/system.slice/walguard-hold@data.db.service\n1:name=systemd:/system.slice/walguard-hold@data.db.service\n";
        assert_eq!(unit_of(v1).as_deref(), Some("walguard-hold@data.db.service"));
        assert_eq!(unit_of("0::/user.slice/user-1000.slice/session-2.scope\n"), None);
    }
}
