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
  # The testfixture processes the file starts (crashsql, do_multiclient_test, exec) inherit
  # these and load walguard at each sqlite3_initialize() (child_init.c), before crashsql's
  # child creates its crash VFS, which then wraps walguard. This process stays as set up here.
  set ::env(WALGUARD_SUITE_CHILD_LIB) $::walguard_suite(lib)
  set ::env(WALGUARD_SUITE_PARENT_PID) [pid]
}
reset_db
if {$::walguard_suite(lib) ne "none" && [db eval {PRAGMA main.walguard}] eq ""} {
  puts "test.db is not opened through walguard"
  exit 1
}
# Runtime patches of SQLite's test files, applied both ways (with and without walguard) so the
# two runs stay comparable: {FILE {LINE OLD NEW ...}}. Each OLD must be the file's exact line
# LINE, or the run stops (a changed upstream file is looked at again); NEW keeps the line
# count, so reported line numbers stay the file's own. The patched copy is sourced in place of
# the file, from the run's directory.
#
# pagerfault.test, line 1029: the setup of pagerfault-21.crash/pagerfault-22 (outside any
# test) makes a fresh empty database go WAL and back to DELETE before it writes its header
# bytes by hand; walguard refuses that DELETE and the error ended the file there, so its
# ~7,900 later tests never ran with walguard. The same statements now run on a connection
# opened with walguard=off, walguard's documented way to convert a database deliberately (the
# plain unix VFS ignores the parameter): the only switch allowed, everything after it guarded.
set ::walguard_suite(patches) [dict create pagerfault.test [list \
  1029 "  execsql \{" "  db close; sqlite3 db file:test.db?walguard=off -uri 1; execsql \{" \
]]
set ::walguard_suite(name) [file tail $::walguard_suite(file)]
if {[dict exists $::walguard_suite(patches) $::walguard_suite(name)]} {
  set fd [open $::walguard_suite(file)]
  set lines [split [read $fd] "\n"]
  close $fd
  foreach {n old new} [dict get $::walguard_suite(patches) $::walguard_suite(name)] {
    if {[lindex $lines $n-1] ne $old} {
      puts "run-one.tcl: $::walguard_suite(name) line $n is not '$old' but '[lindex $lines $n-1]': look at the patch again"
      exit 1
    }
    lset lines $n-1 $new
  }
  set ::walguard_suite(file) [file normalize walguard-patched-$::walguard_suite(name)]
  set fd [open $::walguard_suite(file) w]
  puts -nonewline $fd [join $lines "\n"]
  close $fd
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
