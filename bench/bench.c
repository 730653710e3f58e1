/*
** walguard's benchmark workloads, one per process, against the system SQLite.
**
**   bench WORKLOAD VFS DIR [--no-load]
**
** WORKLOAD: wal-commits | rollback-commits | rollback-commits-normal | wal-reads |
**           wal-reads-mmap | none
** VFS:      bare (a copy of the default VFS, see load.h) or walguard
**
** walguard is loaded in both cases (unless --no-load), so the cost of loading the library
** is the same in both and cancels out of the ratio; it is measured on its own with the
** "none" workload and --no-load.
*/
#include <sqlite3.h>
#include "load.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMITS 3000
#define SYNCED_COMMITS 200  /* synchronous=NORMAL: each commit waits for fsync */
#define ROWS 20000
#define QUERIES 20000

static sqlite3 *db;

static void check(int rc, const char *what){
  if( rc!=SQLITE_OK && rc!=SQLITE_DONE && rc!=SQLITE_ROW ){
    fprintf(stderr, "%s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    exit(1);
  }
}

static void exec(const char *sql){
  char *err = 0;
  if( sqlite3_exec(db, sql, 0, 0, &err)!=SQLITE_OK ){
    fprintf(stderr, "%s: %s\n", sql, err);
    exit(1);
  }
}

static void commits(const char *journal_mode, const char *synchronous, int n){
  char sql[100];
  sqlite3_stmt *ins;
  snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", journal_mode);
  exec(sql);
  snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", synchronous);
  exec(sql);
  exec("CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)");
  check(sqlite3_prepare_v2(db, "INSERT INTO t(y) VALUES(?1)", -1, &ins, 0), "prepare");
  for(int i=0; i<n; i++){
    sqlite3_bind_text(ins, 1, "a small row of text", -1, SQLITE_STATIC);
    check(sqlite3_step(ins), "insert");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

static void reads(int mmap){
  sqlite3_stmt *q;
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
       "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT);"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<20000)"
       " INSERT INTO t SELECT i, printf('%0100d', i) FROM n;"
       "PRAGMA wal_checkpoint(TRUNCATE);");
  if( mmap ) exec("PRAGMA mmap_size=268435456");
  exec("PRAGMA cache_size=10");  /* small cache: reads reach the VFS */
  check(sqlite3_prepare_v2(db, "SELECT y FROM t WHERE x=?1", -1, &q, 0), "prepare");
  unsigned seed = 12345;
  for(int i=0; i<QUERIES; i++){
    seed = seed*1103515245u + 12345u;
    sqlite3_bind_int(q, 1, 1 + (int)(seed % ROWS));
    check(sqlite3_step(q), "select");
    sqlite3_reset(q);
  }
  sqlite3_finalize(q);
  exec("SELECT count(*), sum(length(y)) FROM t");
}

int main(int argc, char **argv){
  if( argc<4 ){ fprintf(stderr, "usage: bench WORKLOAD VFS DIR [--no-load]\n"); return 2; }
  const char *workload = argv[1], *vfs = argv[2], *dir = argv[3];
  int load = !(argc>4 && strcmp(argv[4], "--no-load")==0);
  if( load && !load_walguard() ) return 1;
  if( strcmp(workload, "none")==0 ) return 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/bench.db", dir);
  check(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, vfs), "open");
  if( strcmp(workload, "wal-commits")==0 ) commits("WAL", "OFF", COMMITS);
  else if( strcmp(workload, "rollback-commits")==0 ) commits("DELETE", "OFF", COMMITS);
  else if( strcmp(workload, "rollback-commits-normal")==0 ) commits("DELETE", "NORMAL", SYNCED_COMMITS);
  else if( strcmp(workload, "wal-reads")==0 ) reads(0);
  else if( strcmp(workload, "wal-reads-mmap")==0 ) reads(1);
  else { fprintf(stderr, "unknown workload %s\n", workload); return 2; }
  return sqlite3_close(db)==SQLITE_OK ? 0 : 1;
}
