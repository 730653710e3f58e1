/*
** Loading walguard into hand-made hosts, for the cases no real client here can produce:
**   1. a SQLite older than the headers walguard was built with (3.31.1): the load fails with
**      a clear message, not a crash;
**   2. the real host (the system libsqlite3): the load succeeds, permanently;
**   3. a second, different SQLite library in the same process: refused with a clear message
**      (walguard keeps one set of API pointers per process);
**   4. the real host again: a no-op success.
** The hand-made hosts are copies of the system library's API table, which this program
** captures the way an extension receives it: as the third argument of an entry point.
**
**   loading LIBWALGUARD      (prints one line per case and "loading: N passed, M failed")
*/
#include <dlfcn.h>
#define SQLITE_CORE 1 /* the sqlite3_api_routines type, without its redirecting macros */
#include <sqlite3ext.h>
#include <stdio.h>
#include <string.h>

typedef int (*Init)(sqlite3 *, char **, const sqlite3_api_routines *);

static const sqlite3_api_routines *real_api;
static int capture(sqlite3 *db, char **err, const sqlite3_api_routines *api){
  (void)db; (void)err;
  real_api = api;
  return SQLITE_OK;
}
static int old_version(void){ return 3030001; }

static int passed = 0, failed = 0;
static void expect(const char *what, int rc, char *err, int want_rc, const char *want_prefix){
  int ok = rc==want_rc && (want_prefix ? err && strncmp(err, want_prefix, strlen(want_prefix))==0 : err==0);
  printf("%s %s: rc=%d %s\n", ok ? "ok  " : "FAIL", what, rc, err ? err : "(no message)");
  if( ok ) passed++; else failed++;
  sqlite3_free(err);
}

int main(int argc, char **argv){
  sqlite3 *db;
  char *err;
  if( argc<2 ){ fprintf(stderr, "usage: loading LIBWALGUARD\n"); return 2; }
  sqlite3_auto_extension((void(*)(void))capture);
  sqlite3_open(":memory:", &db);
  sqlite3_cancel_auto_extension((void(*)(void))capture);
  void *lib = dlopen(argv[1], RTLD_NOW|RTLD_LOCAL);
  Init init = lib ? (Init)dlsym(lib, "sqlite3_walguard_init") : 0;
  if( !real_api || !init ){ printf("FAIL setup: %s\n", lib ? "no API table" : dlerror()); return 1; }

  static sqlite3_api_routines old, other;
  old = *real_api;
  old.libversion_number = old_version;
  other = *real_api;

  int rc;
  err = 0; rc = init(db, &err, &old);
  expect("SQLite 3.30.1 host", rc, err, SQLITE_ERROR, "walguard: cannot load: SQLite version mismatch: 3030001 < 3031001");
  err = 0; rc = init(db, &err, real_api);
  expect("the system SQLite", rc, err, SQLITE_OK_LOAD_PERMANENTLY, 0);
  err = 0; rc = init(db, &err, &other);
  expect("a second SQLite library", rc, err, SQLITE_ERROR, "walguard: already loaded by another SQLite library in this process");
  err = 0; rc = init(db, &err, real_api);
  expect("the system SQLite again", rc, err, SQLITE_OK_LOAD_PERMANENTLY, 0);
  sqlite3_close(db);
  printf("loading: %d passed, %d failed\n", passed, failed);
  return failed!=0;
}
