# Runs one of SQLite's test files in testfixture, with walguard as the default VFS or not.
#   testfixture run-one.tcl TESTDIR TESTFILE LIB|none
# TESTDIR is SQLite's test/ directory (files under ext/ find tester.tcl through it).
#
# tester.tcl shuts SQLite down and re-initialises it the first time it is sourced, which
# resets the default VFS: so it is sourced once first, then walguard is loaded, then the
# test file runs (its own `source tester.tcl` then only sets up again). tester.tcl also opens
# the connection `db` that most files start with: it is opened again once walguard is the
# default VFS (reset_db, as tester.tcl does it), or it would not go through walguard.
#
# The file runs as permutations.test's run_tests runs it for the veryquick and quick
# suites: G(isquick) set, no test-name prefix. A Tcl error that escapes the file (a statement
# outside any test failing) is counted as the failure "(aborted-line-N)", N being the line
# of the test file it came from, and the file is finished there; a file that returns without
# finish_test (one that does not apply to this platform) is finished with no tests.
set testdir [file normalize [lindex $argv 0]]
set ::walguard_suite(file) [file normalize [lindex $argv 1]]
set ::walguard_suite(lib) [lindex $argv 2]
set argv {}
set argv0 $::walguard_suite(file)
source $testdir/tester.tcl
set ::G(isquick) 1
if {$::walguard_suite(lib) ne "none"} {
  sqlite3 walguard_loader :memory:
  walguard_loader enable_load_extension 1
  walguard_loader eval {SELECT load_extension($::walguard_suite(lib))}
  walguard_loader close
  # walguard answers to the default VFS's name (unix) and registers itself as walguard too.
  if {[lsearch -exact [sqlite3_vfs_list] walguard] < 0} {
    puts "walguard is not registered: [sqlite3_vfs_list]"
    exit 1
  }
}
reset_db
if {$::walguard_suite(lib) ne "none" && [db eval {PRAGMA main.walguard}] eq ""} {
  puts "test.db is not opened through walguard"
  exit 1
}
if {[catch {source $::walguard_suite(file)} ::walguard_suite(msg)]} {
  set ::walguard_suite(info) $::errorInfo
  set ::walguard_suite(line) ""
  foreach {- f l} [regexp -all -inline {\(file "([^"]*)" line (\d+)\)} $::walguard_suite(info)] {
    if {[file normalize $f] eq $::walguard_suite(file)} { set ::walguard_suite(line) $l }
  }
  puts "\nrun-one.tcl: the test file stopped on an uncaught error: $::walguard_suite(msg)"
  puts $::walguard_suite(info)
  fail_test "(aborted-line-$::walguard_suite(line))"
}
# SQLite's open-file counter is not thread-safe: after a file ran threads, tester.tcl's own
# per-file check skips it (slave_test_file), and so does this.
if {[info exists ::run_thread_tests_called]} { set ::sqlite_open_file_count 0 }
finish_test
