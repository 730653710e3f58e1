/* Linked into testfixture (scripts/build-testfixture.sh) as SQLITE_EXTRA_INIT, which
** sqlite3_initialize() calls each time it initialises SQLite.
**
** SQLite's tests start other testfixture processes: crashsql (crash*.test, walcrash*.test,
** writecrash.test...) runs the crashing SQL in a child, do_multiclient_test runs sql2/sql3
** in two children, some files `exec` testfixture directly. run-one.tcl loads walguard into
** the parent testfixture, then sets WALGUARD_SUITE_CHILD_LIB (the library) and
** WALGUARD_SUITE_PARENT_PID (its own pid) in the environment the children inherit. In any
** other process that has the first, this loads the library at every initialisation and
** makes walguard the default VFS again after each sqlite3_shutdown(): crash.tcl shuts SQLite
** down before `sqlite3_crash_enable`, which wraps whatever VFS is then the default, so the
** crash VFS wraps walguard and the writes it tears and drops go through walguard.
** The parent itself is left as run-one.tcl set it up (the pid check). Without the variable
** (every run without walguard) this does nothing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "sqlite3.h"

int walguard_suite_init(const char *unused){
  const char *lib = getenv("WALGUARD_SUITE_CHILD_LIB");
  const char *parent = getenv("WALGUARD_SUITE_PARENT_PID");
  sqlite3 *db = 0;
  char *err = 0;
  int rc;
  (void)unused;
  if( lib==0 || lib[0]==0 ) return SQLITE_OK;
  if( parent && atol(parent)==(long)getpid() ) return SQLITE_OK;
  rc = sqlite3_open(":memory:", &db);
  if( rc==SQLITE_OK ) rc = sqlite3_enable_load_extension(db, 1);
  if( rc==SQLITE_OK ) rc = sqlite3_load_extension(db, lib, 0, &err);
  if( rc!=SQLITE_OK ){
    /* A child without walguard would run the test unguarded: say so where the log shows it. */
    fprintf(stderr, "walguard_suite_init: could not load %s in pid %ld: %s\n", lib, (long)getpid(),
            err ? err : sqlite3_errstr(rc));
  }
  sqlite3_free(err);
  sqlite3_close(db);
  /* walguard registers its VFS once per process and a later load changes nothing, while
  ** sqlite3_shutdown() + sqlite3_initialize() make unix the default again: put walguard
  ** back at the head, as its first load did (re-registering moves a VFS, nothing else). */
  if( rc==SQLITE_OK ){
    sqlite3_vfs *walguard = sqlite3_vfs_find("walguard");
    if( walguard && sqlite3_vfs_find(0)!=walguard ) sqlite3_vfs_register(walguard, 1);
  }
  return SQLITE_OK;
}
