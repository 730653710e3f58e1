/*
** An application linked to a shared libsqlite3, run under LD_PRELOAD=libwalguard_preload.so:
**
**   preloadhost DIR      (a program that never mentions walguard)
**
** `make test-versions` runs it against libraries built from the 3.31.1 and 3.37.0
** amalgamations (no sqlite3_db_name) and the system 3.40.1. The preload's auto-extension runs
** inside every sqlite3_open; it must leave each open exactly the application's: it reads
** nothing, so an open succeeds where plain SQLite's does (a file that is not a database, a
** database a writer holds locked) and `locking_mode=EXCLUSIVE` set before the first read
** still gets a heap wal-index (no -shm file). And the application is guarded: its downgrade
** of a WAL database is refused. Exits 0 when every check passes.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static int exists(const char *path){
  struct stat st;
  return stat(path, &st)==0;
}

int main(int argc, char **argv){
  if( argc<2 ){ fprintf(stderr, "usage: preloadhost DIR\n"); return 2; }
  const char *dir = argv[1];
  char junk[4200], busy[4200], excl[4200], shm[4300], app[4200], out[CHECK_TEXT];
  snprintf(junk, sizeof junk, "%s/junk.db", dir);
  snprintf(busy, sizeof busy, "%s/busy.db", dir);
  snprintf(excl, sizeof excl, "%s/excl.db", dir);
  snprintf(shm, sizeof shm, "%s-shm", excl);
  snprintf(app, sizeof app, "%s/app.db", dir);
  printf("host SQLite %s (shared)\n", sqlite3_libversion());
  sqlite3 *db, *writer;

  FILE *f = fopen(junk, "w");
  fprintf(f, "not a database: plain text, more than the 100 bytes of a header .....................................\n");
  fclose(f);
  expect(sqlite3_open(junk, &db)==SQLITE_OK, "opening a file that is not a database succeeds, as in plain SQLite");
  sqlite3_close(db);

  sqlite3_open(busy, &writer);
  run(writer, "CREATE TABLE t(x); INSERT INTO t VALUES(1); BEGIN EXCLUSIVE; INSERT INTO t VALUES(2);", out);
  expect(sqlite3_open(busy, &db)==SQLITE_OK, "opening a database a writer holds locked succeeds");
  run(writer, "COMMIT", out);
  sqlite3_busy_timeout(db, 2000);
  expect(!*run(db, "SELECT count(*) FROM t", out) && strcmp(out, "2")==0, "and reads it once the writer is done");
  sqlite3_close(db);
  sqlite3_close(writer);

  sqlite3_open(excl, &db);
  run(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1);", out);
  sqlite3_close(db);
  unlink(shm);
  sqlite3_open(excl, &db);
  run(db, "PRAGMA locking_mode=EXCLUSIVE; SELECT count(*) FROM t;", out);
  expect(strcmp(out, "1")==0 && !exists(shm), "locking_mode=EXCLUSIVE before the first read keeps the wal-index in heap memory");
  sqlite3_close(db);

  sqlite3_open(app, &db);
  run(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1),(2),(3);", out);
  expect(strncmp(run(db, "PRAGMA journal_mode=DELETE", out), "walguard: refused journal_mode=DELETE", 37)==0,
         "the application is guarded: its downgrade is refused");
  run(db, "PRAGMA journal_mode", out);
  expect(strcmp(out, "wal")==0, "and its database is still WAL");
  sqlite3_close(db);

  printf("preloadhost %s: %d failed\n", sqlite3_libversion(), failures);
  return failures ? 1 : 0;
}
