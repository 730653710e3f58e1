# Runs one of SQLite's test files in testfixture, with walguard as the default VFS or not.
#   testfixture run-one.tcl TESTDIR TESTFILE LIB|none
# TESTDIR is SQLite's test/ directory (files under ext/ find tester.tcl through it).
# tester.tcl shuts SQLite down and re-initialises it the first time it is sourced, which
# resets the default VFS: so it is sourced once first, then walguard is loaded, then the
# test file runs (its own `source tester.tcl` is then a no-op).
# The file runs as permutations.test's run_tests runs it for the veryquick and quick
# suites: G(isquick) set, no test-name prefix.
set testdir [file normalize [lindex $argv 0]]
set testfile [file normalize [lindex $argv 1]]
set lib [lindex $argv 2]
set argv {}
set argv0 $testfile
source $testdir/tester.tcl
set ::G(isquick) 1
if {$lib ne "none"} {
  sqlite3 walguard_loader :memory:
  walguard_loader enable_load_extension 1
  walguard_loader eval {SELECT load_extension($lib)}
  walguard_loader close
  if {[lindex [sqlite3_vfs_list] 0] ne "walguard"} {
    puts "walguard is not the default VFS: [sqlite3_vfs_list]"
    exit 1
  }
}
source $testfile
