/*
** SQLite's WAL-reset bug, forced deterministically on the system SQLite, with walguard loaded.
**
**   walreset LIBWALGUARD DIR (corrupts|intact)
**
** The scenario of upstream's walrestart.test: checkpointer A and writer B share a WAL database
** of 20 rows with an index. A test VFS, "racer", sits above walguard for A's connection only:
** its xUnfetch(0, NULL) on the database file, which A makes right after it read a wal-index
** header that changed (sqlite3WalCheckpoint), runs B's UPDATE in the middle of A's PASSIVE
** checkpoint. B resets the WAL (new salts) and commits a few frames; A then goes on with its
** stale header. Without a mitigation A copies frames that belong to no transaction and
** publishes a backfill past frames it never copied: the last update is lost and the index
** no longer matches the table.
**
** With "corrupts" (run with WALGUARD_WAL_RESET_FIX=off) the program exits 0 only if the
** database ends corrupted or missing rows: the race is real on this SQLite. With "intact" (the
** mitigation on) it exits 0 only if integrity_check is ok, all 20 rows carry the last update,
** and walguard_status() counts a held-back checkpoint.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3_vfs racer;
static sqlite3_vfs *below;
static sqlite3 *writer;          /* B */
static const char *race_sql;     /* run once, from A's xUnfetch(0, NULL) */
static int races;

typedef struct RacerFile {
  sqlite3_file base;
  sqlite3_file *real;            /* the file below, right after this struct */
} RacerFile;

#define REAL(f) (((RacerFile *)(f))->real)

static int rClose(sqlite3_file *f){
  int rc = REAL(f)->pMethods->xClose(REAL(f));
  return rc;
}
static int rRead(sqlite3_file *f, void *b, int n, sqlite3_int64 o){ return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int rWrite(sqlite3_file *f, const void *b, int n, sqlite3_int64 o){ return REAL(f)->pMethods->xWrite(REAL(f), b, n, o); }
static int rTruncate(sqlite3_file *f, sqlite3_int64 s){ return REAL(f)->pMethods->xTruncate(REAL(f), s); }
static int rSync(sqlite3_file *f, int fl){ return REAL(f)->pMethods->xSync(REAL(f), fl); }
static int rFileSize(sqlite3_file *f, sqlite3_int64 *s){ return REAL(f)->pMethods->xFileSize(REAL(f), s); }
static int rLock(sqlite3_file *f, int l){ return REAL(f)->pMethods->xLock(REAL(f), l); }
static int rUnlock(sqlite3_file *f, int l){ return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int rCheck(sqlite3_file *f, int *r){ return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int rFcntl(sqlite3_file *f, int op, void *a){ return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int rSector(sqlite3_file *f){ return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int rDevice(sqlite3_file *f){ return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int rShmMap(sqlite3_file *f, int i, int sz, int e, void volatile **p){ return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, e, p); }
static int rShmLock(sqlite3_file *f, int o, int n, int fl){ return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void rShmBarrier(sqlite3_file *f){ REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int rShmUnmap(sqlite3_file *f, int d){ return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }
static int rFetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p){ return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int rUnfetch(sqlite3_file *f, sqlite3_int64 o, void *p){
  if( o==0 && p==0 && race_sql ){
    /* A has just read a changed wal-index header and holds CKPT: B writes now. */
    const char *sql = race_sql;
    char *err = 0;
    race_sql = 0;
    races++;
    if( sqlite3_exec(writer, sql, 0, 0, &err)!=SQLITE_OK ){
      fprintf(stderr, "writer during the race: %s\n", err);
      exit(2);
    }
  }
  return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static const sqlite3_io_methods racer_methods = {
  3, rClose, rRead, rWrite, rTruncate, rSync, rFileSize, rLock, rUnlock, rCheck, rFcntl,
  rSector, rDevice, rShmMap, rShmLock, rShmBarrier, rShmUnmap, rFetch, rUnfetch
};

static int rOpen(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out){
  RacerFile *r = (RacerFile *)f;
  int rc;
  (void)v;
  memset(r, 0, sizeof *r);
  r->real = (sqlite3_file *)&r[1];
  rc = below->xOpen(below, name, r->real, flags, out);
  if( rc==SQLITE_OK && r->real->pMethods ){
    if( r->real->pMethods->iVersion<3 ){ fprintf(stderr, "io-methods version %d\n", r->real->pMethods->iVersion); exit(2); }
    f->pMethods = &racer_methods;
  }
  return rc;
}

static void fail(sqlite3 *db, const char *what){
  fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
  exit(2);
}

static void exec(sqlite3 *db, const char *sql){
  char *err = 0;
  if( sqlite3_exec(db, sql, 0, 0, &err)!=SQLITE_OK ){
    fprintf(stderr, "%s: %s\n", sql, err);
    exit(2);
  }
}

static int text_cb(void *out, int n, char **v, char **c){
  (void)n; (void)c;
  snprintf((char *)out, 4096, "%s", v[0] ? v[0] : "NULL");
  return 0;
}

static void query(sqlite3 *db, const char *sql, char *out){
  char *err = 0;
  out[0] = 0;
  if( sqlite3_exec(db, sql, text_cb, out, &err)!=SQLITE_OK ) snprintf(out, 4096, "error: %s", err);
}

int main(int argc, char **argv){
  sqlite3 *loader, *a, *check;
  char path[4096], result[4096], status[4096], count[4096];
  if( argc<4 ){ fprintf(stderr, "usage: walreset LIBWALGUARD DIR corrupts|intact\n"); return 2; }
  int expect_intact = strcmp(argv[3], "intact")==0;

  if( sqlite3_open(":memory:", &loader) ) fail(loader, "open");
  sqlite3_enable_load_extension(loader, 1);
  char *err = 0;
  if( sqlite3_load_extension(loader, argv[1], 0, &err)!=SQLITE_OK ){ fprintf(stderr, "load: %s\n", err); return 2; }

  /* racer wraps walguard, and is registered without becoming the default. */
  below = sqlite3_vfs_find("walguard");
  if( !below ){ fprintf(stderr, "walguard is not registered\n"); return 2; }
  racer = *below;
  racer.zName = "racer";
  racer.pNext = 0;
  racer.szOsFile = (int)sizeof(RacerFile) + below->szOsFile;
  racer.xOpen = rOpen;
  if( sqlite3_vfs_register(&racer, 0) ) return 2;

  snprintf(path, sizeof path, "%s/walreset.db", argv[2]);
  remove(path);
  if( sqlite3_open_v2(path, &writer, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, "walguard") ) fail(writer, "open B");
  exec(writer, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
               "CREATE TABLE t1(a INTEGER PRIMARY KEY, b); CREATE INDEX i1 ON t1(b);"
               "WITH s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<20)"
               " INSERT INTO t1 SELECT i, randomblob(800) FROM s;");
  if( sqlite3_open_v2(path, &a, SQLITE_OPEN_READWRITE, "racer") ) fail(a, "open A");
  exec(a, "PRAGMA wal_autocheckpoint=0; SELECT count(*) FROM t1;");

  exec(a, "PRAGMA wal_checkpoint;");
  exec(writer, "UPDATE t1 SET b = randomblob(800);");
  exec(a, "PRAGMA wal_checkpoint;");
  /* The next checkpoint sees a changed header (the previous one zeroed A's copy): race it. */
  race_sql = "UPDATE t1 SET b = randomblob(800) WHERE a<5;";
  exec(a, "PRAGMA wal_checkpoint;");
  if( races!=1 ){ fprintf(stderr, "the race hook did not run (%d)\n", races); return 2; }
  exec(writer, "UPDATE t1 SET b = 'last update';");
  exec(a, "PRAGMA wal_checkpoint;");
  query(a, "SELECT walguard_status()", status);
  sqlite3_close(a);
  sqlite3_close(writer);

  if( sqlite3_open_v2(path, &check, SQLITE_OPEN_READWRITE, "unix") ) fail(check, "open check");
  query(check, "PRAGMA integrity_check", result);
  query(check, "SELECT count(*) FROM t1 WHERE b='last update'", count);
  sqlite3_close(check);
  sqlite3_close(loader);

  int intact = strcmp(result, "ok")==0 && strcmp(count, "20")==0;
  int held = strstr(status, "\"wal_reset_checkpoints_held\":0")==0;
  printf("walreset (%s): %s; integrity_check: %s; rows with the last update: %s of 20; %s\n",
         sqlite3_libversion(), expect_intact ? "mitigation on" : "mitigation off", result, count, status);
  if( expect_intact ) return intact && held ? 0 : 1;
  return intact ? 1 : 0;
}
