//! Build-time jobs of the extension (the cdylib):
//! - its soname, `libwalguard.so`, the name it is installed and loaded under;
//! - the build information `walguard_status()` reports as `"build"`: the git commit it was
//!   built from (`unknown` outside a git checkout) and the compiler, so a report from a host
//!   names exactly what ran there. The other half, the SQLite version the bindings were
//!   generated from (the oldest host walguard loads into), is libsqlite3-sys's own
//!   `SQLITE_VERSION`, read where it is used (`src/functions.rs`), so it cannot disagree with
//!   the bindings.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwalguard.so");
    println!("cargo:rustc-env=WALGUARD_BUILD={}, {}", commit(), rustc_version());
}

/// `git rev-parse --short=12 HEAD`, re-read whenever HEAD moves.
fn commit() -> String {
    let git_dir = Path::new(".git");
    if git_dir.is_dir() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD"))
            && let Some(reference) = head.strip_prefix("ref: ")
        {
            // The branch's ref file, or packed-refs once git packs it.
            println!("cargo:rerun-if-changed=.git/{}", reference.trim());
            println!("cargo:rerun-if-changed=.git/packed-refs");
        }
    }
    let output = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output();
    match output {
        Ok(out) if out.status.success() => format!("commit {}", String::from_utf8_lossy(&out.stdout).trim()),
        _ => "commit unknown".to_owned(),
    }
}

/// `rustc --version` of the compiler cargo uses.
fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or_else(|| "rustc unknown".to_owned(), |out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
