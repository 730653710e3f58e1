/*
** walguard in a host built from an older SQLite amalgamation (or the system library):
**
**   oldhost LIBWALGUARD DIR
**
** Compiled once per SQLite version (`make test-versions`: 3.31.1, 3.34.0, 3.37.0 and 3.54.1 from
** their amalgamations, and the system library). In each host:
**   - a connection opened and an ATTACHed WAL file before the load are adopted at the load
**     (before 3.39.0 through `PRAGMA database_list`, after it through sqlite3_db_name);
**   - `PRAGMA journal_mode=DELETE` on a WAL file is refused with walguard's message, and the
**     unprefixed pragma's header write to an ATTACHed WAL file is refused at the header;
**   - writes and a TRUNCATE checkpoint go on, and leave the WAL poisoned report clear;
**   - a page 1 that leaves WAL, written into the WAL by an unguarded connection, is refused
**     when a guarded checkpoint copies it, and reported as a poisoned WAL: before 3.32.0 the
**     checkpoint shows only as its wal-index lock (walguard_core::checkpoint);
**   - the hot journal a crash leaves in the middle of a switch to WAL (database already 2,2,
**     its journal holding the rollback page 1) is played back through walguard;
**   - walguard_status() names this host's SQLite and the floor;
**   - the WAL-reset mitigation is on where the host has the bug (before 3.51.3) and off where
**     SQLite fixed it (or WALGUARD_WAL_RESET_FIX=off): then, from 3.32.0 on, a guarded file's
**     wal-index locks are the lower VFS's own function, at no cost (the same xShmLock as a file
**     opened through "bare").
** Exits 0 when every check passes.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char lib[4096];

/* Bytes 18 and 19 of a database file, as "18,19". */
static const char *header(const char *path){
  static char text[16];
  unsigned char h[20] = {0};
  FILE *f = fopen(path, "rb");
  if( !f || fread(h, 1, 20, f)!=20 ) snprintf(text, sizeof text, "missing");
  else snprintf(text, sizeof text, "%d,%d", h[18], h[19]);
  if( f ) fclose(f);
  return text;
}

/* walguard answers to the default VFS's names once loaded: the unguarded connections of this
** program open through "bare", a copy of the default VFS registered before the first load. */
static sqlite3_vfs bare_vfs;

static int load(sqlite3 *db){
  char *err = 0;
  if( !bare_vfs.zName ){
    bare_vfs = *sqlite3_vfs_find(0);
    bare_vfs.zName = "bare";
    bare_vfs.pNext = 0;
    sqlite3_vfs_register(&bare_vfs, 0);
  }
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, lib, 0, &err)!=SQLITE_OK ){
    fprintf(stderr, "load: %s\n", err ? err : "?");
    sqlite3_free(err);
    return 0;
  }
  return 1;
}

static void make_db(const char *path, const char *mode){
  char sql[256], out[CHECK_TEXT];
  sqlite3 *db;
  remove(path);
  sqlite3_open(path, &db);
  snprintf(sql, sizeof sql,
           "PRAGMA journal_mode=%s; CREATE TABLE t(x INTEGER PRIMARY KEY, pad TEXT);"
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<200)"
           " INSERT INTO t SELECT i, randomblob(300) FROM n;", mode);
  run(db, sql, out);
  sqlite3_close(db);
}

/* Put page 1 with read and write versions 1 into `db`'s WAL through sqlite_dbpage (an
** unguarded connection, as a tool without walguard would): 1 done, 0 refused, -1 when the host
** lacks sqlite_dbpage. */
static int poison_wal(sqlite3 *db){
  sqlite3_stmt *read = 0, *write = 0;
  unsigned char page[65536];
  int n = 0, ok = 0;
  if( sqlite3_prepare_v2(db, "SELECT data FROM sqlite_dbpage WHERE pgno=1", -1, &read, 0)!=SQLITE_OK ) return -1;
  if( sqlite3_step(read)==SQLITE_ROW && (n = sqlite3_column_bytes(read, 0))<=(int)sizeof page && n>=100 ){
    memcpy(page, sqlite3_column_blob(read, 0), n);
    page[18] = page[19] = 1;
    sqlite3_prepare_v2(db, "UPDATE sqlite_dbpage SET data=?1 WHERE pgno=1", -1, &write, 0);
    sqlite3_bind_blob(write, 1, page, n, SQLITE_TRANSIENT);
    ok = sqlite3_step(write)==SQLITE_DONE;
  }
  sqlite3_finalize(read);
  sqlite3_finalize(write);
  return ok;
}

/* The crash: a VFS over the default one that ends the process when SQLite deletes a rollback
** journal, i.e. after a commit wrote the database and before it was final. */
static sqlite3_vfs crashy;
static int crashy_delete(sqlite3_vfs *vfs, const char *name, int sync_dir){
  size_t n = strlen(name);
  if( n>8 && strcmp(name + n - 8, "-journal")==0 ) _exit(0);
  sqlite3_vfs *lower = (sqlite3_vfs *)vfs->pAppData;
  return lower->xDelete(lower, name, sync_dir);
}
static int crashy_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out){
  sqlite3_vfs *lower = (sqlite3_vfs *)vfs->pAppData;
  return lower->xOpen(lower, name, file, flags, out);
}

/* In a child process: walguard over "crashy", switch a rollback database to WAL, die at the
** journal's deletion. Leaves the database 2,2 and its hot journal. */
static void crash_in_switch(const char *path){
  pid_t pid = fork();
  if( pid==0 ){
    sqlite3_vfs *lower = sqlite3_vfs_find(0);
    crashy = *lower;
    crashy.zName = "crashy";
    crashy.pAppData = lower;
    crashy.pNext = 0;
    crashy.xOpen = crashy_open;
    crashy.xDelete = crashy_delete;
    sqlite3_vfs_register(&crashy, 1);
    sqlite3 *loader, *db;
    char out[CHECK_TEXT];
    sqlite3_open(":memory:", &loader);
    if( !load(loader) ) _exit(3);
    sqlite3_open(path, &db);
    run(db, "PRAGMA journal_mode=WAL", out);
    _exit(4); /* not reached when the crash happened */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  expect(WIFEXITED(status) && WEXITSTATUS(status)==0, "the switch to WAL crashed at the journal's deletion");
}

int main(int argc, char **argv){
  if( argc<3 ){ fprintf(stderr, "usage: oldhost LIBWALGUARD DIR\n"); return 2; }
  snprintf(lib, sizeof lib, "%s", argv[1]);
  const char *dir = argv[2];
  char main_db[4200], aux_db[4200], crash_db[4200], journal[4300], sql[8600], out[CHECK_TEXT];
  snprintf(main_db, sizeof main_db, "%s/main.db", dir);
  snprintf(aux_db, sizeof aux_db, "%s/aux.db", dir);
  snprintf(crash_db, sizeof crash_db, "%s/crash.db", dir);
  snprintf(journal, sizeof journal, "%s-journal", crash_db);
  printf("host SQLite %s\n", sqlite3_libversion());

  /* The hot journal first, in a child, before this process loads walguard. */
  make_db(crash_db, "DELETE");
  crash_in_switch(crash_db);
  expect(strcmp(header(crash_db), "2,2")==0 && access(journal, F_OK)==0, "the crash left the database 2,2 and a hot journal");

  /* A connection with a WAL main and an ATTACHed WAL file, opened before the load. */
  make_db(main_db, "WAL");
  make_db(aux_db, "WAL");
  sqlite3 *db;
  sqlite3_open(main_db, &db);
  snprintf(sql, sizeof sql, "ATTACH '%s' AS aux; SELECT count(*) FROM aux.t;", aux_db);
  expect(!*run(db, sql, out) && strcmp(out, "200")==0, "main and aux open and read before the load");
  expect(load(db), "walguard loads into this host");

  run(db, "SELECT walguard_status()", out);
  char wanted[128];
  snprintf(wanted, sizeof wanted, "\"sqlite_version\":\"%s\"", sqlite3_libversion());
  expect(strstr(out, wanted)!=0 && strstr(out, "\"sqlite_floor\":\"3.31.1\"")!=0, "walguard_status() names this host and the floor");

  int fixed_host = sqlite3_libversion_number()>=3051003;
  const char *fix = getenv("WALGUARD_WAL_RESET_FIX");
  int mitigation = !fixed_host && !(fix && strcmp(fix, "off")==0);
  expect(strstr(out, mitigation ? "\"wal_reset_mitigation\":true" : "\"wal_reset_mitigation\":false")!=0,
         mitigation ? "the WAL-reset mitigation is on: this SQLite has the bug"
                    : "the WAL-reset mitigation is off: this SQLite has the fix, or it was turned off");
  {
    /* Before 3.32.0 the wal-index's locks show the checkpoints too (walguard_core::checkpoint). */
    int watched = mitigation || sqlite3_libversion_number()<3032000;
    sqlite3 *guarded, *plain;
    sqlite3_file *guarded_file = 0, *plain_file = 0;
    sqlite3_open(main_db, &guarded);
    sqlite3_open_v2(main_db, &plain, SQLITE_OPEN_READWRITE, "bare");
    run(guarded, "SELECT count(*) FROM t", out);
    run(plain, "SELECT count(*) FROM t", out);
    sqlite3_file_control(guarded, "main", SQLITE_FCNTL_FILE_POINTER, &guarded_file);
    sqlite3_file_control(plain, "main", SQLITE_FCNTL_FILE_POINTER, &plain_file);
    int same = guarded_file && plain_file && guarded_file->pMethods->xShmLock==plain_file->pMethods->xShmLock;
    expect(watched ? !same : same, watched ? "xShmLock is watched (the WAL-reset salt check, or this host's checkpoints)"
                                           : "xShmLock is the lower VFS's own: nothing to pay");
    sqlite3_close(plain);
    sqlite3_close(guarded);
  }

  run(db, "PRAGMA main.walguard", out);
  expect(strcmp(out, "enforce")==0, "main, opened before the load, is adopted");
  run(db, "PRAGMA aux.walguard", out);
  expect(strcmp(out, "enforce")==0, "aux, attached before the load, is adopted");
  expect(strncmp(run(db, "PRAGMA aux.journal_mode=DELETE", out), "walguard: refused journal_mode=DELETE", 37)==0,
         "PRAGMA aux.journal_mode=DELETE is refused with walguard's message");
  run(db, "DETACH aux", out);

  /* A connection opened after the load: through the walguard VFS. */
  sqlite3 *later;
  sqlite3_open(main_db, &later);
  run(later, "PRAGMA walguard", out);
  expect(strcmp(out, "enforce")==0, "a connection opened after the load is guarded");
  expect(strncmp(run(later, "PRAGMA journal_mode=DELETE", out), "walguard: refused journal_mode=DELETE", 37)==0,
         "PRAGMA journal_mode=DELETE is refused with walguard's message");
  expect(!*run(later, "INSERT INTO t VALUES(201, 'x'); PRAGMA wal_checkpoint(TRUNCATE);", out), "a write and a TRUNCATE checkpoint");
  run(later, "PRAGMA walguard", out);
  expect(strcmp(out, "enforce")==0, "the checkpoint leaves no WAL poisoned report");
  sqlite3_close(later);
  sqlite3_close(db);

  /* A poisoned WAL: refused at the checkpoint, and reported. */
  char poisoned_db[4200];
  snprintf(poisoned_db, sizeof poisoned_db, "%s/poisoned.db", dir);
  make_db(poisoned_db, "WAL");
  sqlite3 *unguarded;
  sqlite3_open_v2(poisoned_db, &unguarded, SQLITE_OPEN_READWRITE, "bare");
  run(unguarded, "PRAGMA wal_autocheckpoint=0", out);
  int poisoned = poison_wal(unguarded);
  if( poisoned>=0 ){
    expect(poisoned==1, "a connection without walguard writes a page 1 leaving WAL into the WAL");
    sqlite3_open(poisoned_db, &db);
    expect(*run(db, "PRAGMA wal_checkpoint(TRUNCATE)", out)!=0, "a checkpoint of the poisoned WAL fails");
    expect(strcmp(header(poisoned_db), "2,2")==0, "the header on disk is still 2,2");
    run(db, "PRAGMA walguard", out);
    expect(strncmp(out, "enforce; WAL poisoned", 21)==0, "PRAGMA walguard reports the poisoned WAL");
    run(db, "SELECT walguard_status()", out);
    expect(strstr(out, "\"refused_checkpoints\":1")!=0, "walguard_status() counts the refused checkpoint");
    sqlite3_close(db);
  }else{
    printf("skip a poisoned WAL: this host has no sqlite_dbpage\n");
  }
  sqlite3_close(unguarded);

  /* The unprefixed pragma reaches an ATTACHed WAL file only as its header write. */
  char rollback_db[4200];
  snprintf(rollback_db, sizeof rollback_db, "%s/rollback.db", dir);
  make_db(rollback_db, "DELETE");
  sqlite3_open(rollback_db, &db);
  snprintf(sql, sizeof sql, "ATTACH '%s' AS aux; PRAGMA journal_mode=DELETE;", aux_db);
  run(db, sql, out);
  sqlite3_close(db);
  expect(strcmp(header(aux_db), "2,2")==0, "the unprefixed downgrade of the attached WAL file is refused at the header");
  sqlite3_open(aux_db, &db);
  run(db, "SELECT (SELECT count(*) FROM t) || ' ' || (SELECT integrity_check FROM pragma_integrity_check)", out);
  expect(strcmp(out, "200 ok")==0, "its rows are intact");
  run(db, "PRAGMA journal_mode", out);
  expect(strcmp(out, "wal")==0, "and it is still WAL");
  sqlite3_close(db);

  /* The hot journal is played back through walguard. */
  sqlite3_open(crash_db, &db);
  run(db, "SELECT (SELECT count(*) FROM t) || ' ' || (SELECT integrity_check FROM pragma_integrity_check)", out);
  expect(strcmp(out, "200 ok")==0, "the hot journal is played back: rows intact");
  expect(strcmp(header(crash_db), "1,1")==0, "and the rollback header is back");
  run(db, "PRAGMA journal_mode", out);
  expect(strcmp(out, "delete")==0, "the database is in rollback mode, as before the switch");
  sqlite3_close(db);

  printf("oldhost %s: %d failed\n", sqlite3_libversion(), failures);
  return failures ? 1 : 0;
}
