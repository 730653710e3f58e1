#!/usr/bin/env python3
"""make mutations: each rule of the shell (src/) broken once, the unit tests run, the change
reverted. Every mutation must make a test fail: a rule no test holds is a rule that can rot.
The core's rules are held the same way by core/tests/model.rs and its unit tests (see
ARCHITECTURE.md, "The code"). Exits 1 when a mutation survives."""
import os
import subprocess
import sys

os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
survived = []
muts = [
 ("src/wrap/io.rs", "    if hooked.write {\n", "    if hooked.write && false {\n", "xWrite hook not installed"),
 ("src/wrap/io.rs", "    if hooked.unlock {\n", "    if hooked.unlock && false {\n", "xUnlock hook not installed"),
 ("src/wrap/io.rs", "            (*w).header.wal_index.set((*out).cast_const().cast());", "            let _ = out;", "wal-index region not recorded"),
 ("src/wrap/io.rs", "            Answer::Forward => header.lower.file_control(op, arg),", "            Answer::Forward => ffi::SQLITE_NOTFOUND,", "file-controls not forwarded"),
 ("src/file.rs", "        if !FileGuard::may_concern_header(offset) {\n            return Ok(());", "        if true {\n            return Ok(());", "page-1 writes not checked"),
 ("src/file.rs", "        self.unlocked();\n", "", "xUnlock not an event"),
 ("src/file.rs", "                self.file_control_event(op); // the hot path: most are no event\n", "", "file-controls not events"),
 ("src/companions.rs", "    (*stem == *entry.path).then_some(entry.owner)", "    let _ = stem; Some(entry.owner)", "companion name not compared"),
 ("src/companions.rs", "        Companion::Journal => entry.journal_at == address,", "        Companion::Journal => true,", "companion address not compared"),
 ("src/wrap/io.rs", "(!header.is_null() && (*header).file == file).then_some(header)", "(!header.is_null()).then_some(header)", "adopted table not checked to name its file"),
 ("src/wal_file.rs", "        if self.frames.routine(offset, data) {", "        if true || self.frames.routine(offset, data) {", "WAL frames not checked"),
 ("src/file.rs", "        unsafe { (*guard).journal_opened(journal) };", "        let _ = journal;", "journal handle not recorded"),
]
for path, old, new, what in muts:
    src = open(path).read()
    assert old in src, (path, old)
    open(path, "w").write(src.replace(old, new, 1))
    try:
        r = subprocess.run(["cargo", "test", "-q", "-p", "walguard", "--lib"], capture_output=True, text=True)
        failed = [l for l in (r.stdout + r.stderr).splitlines() if l.startswith("test ") and "FAILED" in l or "error[" in l]
        print(f"{'caught' if r.returncode else 'SURVIVED'}  {what}: {', '.join(failed)[:200]}", flush=True)
        if r.returncode == 0:
            survived.append(what)
    finally:
        open(path, "w").write(src)
print(f"mutations: {len(muts) - len(survived)} of {len(muts)} caught")
sys.exit(1 if survived else 0)
