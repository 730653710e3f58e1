/*
** SQLite's WAL-reset bug, forced deterministically on the system SQLite, with walguard loaded.
**
**   walreset LIBWALGUARD DIR (corrupts|intact)
**   walreset LIBWALGUARD DIR (corrupts|intact) stress SECONDS
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
** The stress form runs the race between processes instead: two writers insert and update rows
** and log each id after its commit, and a checkpointer runs PASSIVE checkpoints back to back
** through racer, which sleeps 1 ms in that xUnfetch to widen the window (without it nothing
** reproduced in 20 s on 2 cores). Afterwards a plain connection checks integrity and that
** every logged id is there.
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
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static sqlite3_vfs racer;
static sqlite3_vfs *below;
static sqlite3 *writer;          /* B */
static const char *race_sql;     /* run once, from A's xUnfetch(0, NULL) */
static int races;
static int widen;                /* stress: sleep in every xUnfetch(0, NULL) */
static long widened;             /* how often it slept */

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
  if( o==0 && p==0 && widen ){ widened++; usleep(1000); }
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

static double now(void){
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* One writer process: insert a row and update a few, commit, log the id; until the deadline. */
static void stress_writer(const char *path, int index, double deadline){
  sqlite3 *db;
  char log_path[4200], sql[200];
  snprintf(log_path, sizeof log_path, "%s.writer%d", path, index);
  FILE *log = fopen(log_path, "w");
  srand(index);
  if( sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "walguard") ) fail(db, "open writer");
  sqlite3_busy_timeout(db, 5000);
  /* No fsync per commit: a writer's whole transaction fits in the widened window. */
  exec(db, "PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=OFF;");
  for(long n=1; now()<deadline; n++){
    long id = index*1000000000L + n;
    snprintf(sql, sizeof sql, "INSERT INTO t VALUES(%ld, randomblob(300));", id);
    if( sqlite3_exec(db, sql, 0, 0, 0)==SQLITE_OK ){
      fprintf(log, "%ld\n", id);
      fflush(log);
    }
    /* Move an earlier row in the index too, then pause: the checkpointer catches up, and the
    ** next write finds the WAL fully copied and resets it. */
    snprintf(sql, sizeof sql, "UPDATE t SET v=randomblob(300) WHERE id=%ld;", index*1000000000L + 1 + (long)(rand() % n));
    sqlite3_exec(db, sql, 0, 0, 0);
    usleep(2000 + rand() % 8000);
  }
  fclose(log);
  sqlite3_close(db);
  exit(0);
}

/* The checkpointer: PASSIVE checkpoints back to back through racer, which sleeps in the
** race window; writes walguard_status() when done. */
static void stress_checkpointer(const char *path, double deadline){
  sqlite3 *db;
  char status[4096], status_path[4200];
  widen = 1;
  if( sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "racer") ) fail(db, "open checkpointer");
  /* A read opens the WAL: a connection that never read has no WAL to checkpoint. */
  exec(db, "PRAGMA wal_autocheckpoint=0; SELECT count(*) FROM t;");
  while( now()<deadline ){
    sqlite3_wal_checkpoint_v2(db, 0, SQLITE_CHECKPOINT_PASSIVE, 0, 0);
  }
  query(db, "SELECT walguard_status()", status);
  snprintf(status_path, sizeof status_path, "%s.status", path);
  FILE *f = fopen(status_path, "w");
  fprintf(f, "%ld %s", widened, status);
  fclose(f);
  sqlite3_close(db);
  exit(0);
}

static int stress(const char *path, double seconds, int expect_intact){
  sqlite3 *db;
  char line[100], result[4096], status[4096] = "", status_path[4200], log_path[4200];
  if( sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, "walguard") ) fail(db, "open setup");
  exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v); CREATE INDEX tv ON t(v);");
  sqlite3_close(db);
  double deadline = now() + seconds;
  pid_t pids[3];
  for(int i=0; i<3; i++){
    pids[i] = fork();
    if( pids[i]==0 ){
      if( i<2 ) stress_writer(path, i + 1, deadline);
      stress_checkpointer(path, deadline);
    }
  }
  for(int i=0; i<3; i++){
    int st;
    waitpid(pids[i], &st, 0);
    if( !WIFEXITED(st) || WEXITSTATUS(st)!=0 ){ fprintf(stderr, "stress process %d failed\n", i); return 2; }
  }
  if( sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "unix") ) fail(db, "open check");
  query(db, "PRAGMA integrity_check", result);
  long logged = 0, missing = 0;
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, "SELECT 1 FROM t WHERE id=?1", -1, &q, 0);
  for(int i=1; i<=2; i++){
    snprintf(log_path, sizeof log_path, "%s.writer%d", path, i);
    FILE *log = fopen(log_path, "r");
    while( log && fgets(line, sizeof line, log) ){
      logged++;
      sqlite3_bind_int64(q, 1, atol(line));
      if( sqlite3_step(q)!=SQLITE_ROW ) missing++;
      sqlite3_reset(q);
    }
    if( log ) fclose(log);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  snprintf(status_path, sizeof status_path, "%s.status", path);
  FILE *f = fopen(status_path, "r");
  long windows = 0;
  if( f ){ if( fscanf(f, "%ld ", &windows)!=1 || !fgets(status, sizeof status, f) ) status[0] = 0; fclose(f); }
  const char *held = strstr(status, "\"wal_reset_checkpoints_held\":");
  printf("walreset stress (%s, %.0f s, %s): %ld commits logged, %ld missing, integrity_check: %.60s; "
         "%ld checkpoints widened, %ld held back\n",
         sqlite3_libversion(), seconds, expect_intact ? "mitigation on" : "mitigation off", logged, missing, result,
         windows, held ? atol(held + 29) : -1L);
  int intact = strcmp(result, "ok")==0 && missing==0;
  if( expect_intact ) return intact && logged>0 ? 0 : 1;
  return intact ? 1 : 0;
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
  if( argc>5 && strcmp(argv[4], "stress")==0 ) return stress(path, atof(argv[5]), expect_intact);
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
