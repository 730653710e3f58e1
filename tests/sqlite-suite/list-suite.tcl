# Prints the test files of one of SQLite's test suites, as SQLite's own test/permutations.test
# defines it (the "veryquick" set by default), one absolute path a line.
#   testfixture list-suite.tcl TESTDIR ?SUITE?
# permutations.test only defines the suites when sourced under another name than its own
# (under its own it would run them); it sources tester.tcl, so run this in a scratch directory.
set testdir [file normalize [lindex $argv 0]]
set suite [expr {[llength $argv] > 1 ? [lindex $argv 1] : "veryquick"}]
set argv {}
set argv0 [file join $testdir list-suite]
source [file join $testdir permutations.test]
if {![info exists ::testspec($suite)]} {
  puts stderr "no such test suite: $suite"
  exit 1
}
array set spec $::testspec($suite)
foreach file [lsort $spec(-files)] {
  if {[file tail $file] eq $file} { set file [file join $testdir $file] }
  puts [file normalize $file]
}
exit 0
