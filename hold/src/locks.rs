//! The kernel's lock table (`/proc/locks`) and the running holders (`/proc/*/comm`).

use std::fs;
use std::io::{self, Read};
use std::time::Duration;

/// SQLite's unix VFS takes a SHARED lock as a read lock on these bytes
/// (`SHARED_FIRST` = `PENDING_BYTE` + 2, `SHARED_SIZE` = 510).
pub const SHARED_FIRST: u64 = 0x4000_0002;
pub const SHARED_LAST: u64 = SHARED_FIRST + 510 - 1;
/// What the kernel reports as the holder's `comm` (its executable's name).
pub const COMM: &str = "walguard-hold";

pub struct Lock {
    pub pid: i64,
    major: u32,
    minor: u32,
    ino: u64,
    start: u64,
    end: u64,
    read: bool,
}

impl Lock {
    pub fn is_shared_on(&self, dev: u64, ino: u64) -> bool {
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
pub fn proc_locks() -> io::Result<Vec<Lock>> {
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

pub fn parse_lock(line: &str) -> Option<Lock> {
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

/// Pids of running processes, sorted.
pub fn pids() -> Vec<i64> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i64> = dir.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok()).collect();
    pids.sort_unstable();
    pids
}

/// A process's `comm`, without its newline.
pub fn comm(pid: i64) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end().to_string())
}

/// Pids of running processes named walguard-hold, this one excepted.
pub fn holders() -> Vec<i64> {
    let me = std::process::id() as i64;
    pids().into_iter().filter(|&pid| pid != me && comm(pid).as_deref() == Some(COMM)).collect()
}

/// The holders among `holders` whose SHARED lock is on (dev, ino).
pub fn held_by(holders: &[i64], locks: &[Lock], dev: u64, ino: u64) -> Vec<i64> {
    holders.iter().copied().filter(|&pid| locks.iter().any(|l| l.pid == pid && l.is_shared_on(dev, ino))).collect()
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
