/*
** walguard next to another shim that follows PROJ's pattern (PROJ is what SpatiaLite uses):
** a VFS that copies the default VFS, calls its xOpen, then replaces file->pMethods with its own
** sqlite3_malloc'd copy of exactly sizeof(sqlite3_io_methods) bytes of the table, whose xClose
** closes through the original table and frees the copy.
**
**   shims LIBWALGUARD DIR above|below|namecopy
**
** above: walguard is loaded first; the shim wraps walguard and the database is opened through
**        the shim (walguard's state must not be looked for through pMethods).
** below: the shim is the default VFS when walguard is loaded; walguard wraps it.
** namecopy: above walguard, a shim that passes its own bare copy of every file name to the VFS
**        below (SQLite's multiplexor passes copies too): walguard must read nothing past it.
** Either way: WAL, writes, a checkpoint, PRAGMA walguard, a refused downgrade through the
** pragma and through an ATTACH, the file still WAL and intact at the end. Exits 0 on success.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static sqlite3_vfs shim;
static sqlite3_vfs *shim_below;

/* Where the shim keeps the original table: after the file of the VFS below it. */
typedef struct Tail { const sqlite3_io_methods *orig; char *name_copy; } Tail;
static int copy_names;
#define TAIL(f) ((Tail *)((char *)(f) + shim_below->szOsFile))

static int shimClose(sqlite3_file *f){
  sqlite3_io_methods *copy = (sqlite3_io_methods *)f->pMethods;
  f->pMethods = TAIL(f)->orig;
  int rc = f->pMethods->xClose(f);
  sqlite3_free(copy);
  free(TAIL(f)->name_copy);
  return rc;
}

static int shimOpen(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out){
  (void)v;
  char *copy_of_name = copy_names && name ? strdup(name) : 0;
  int rc = shim_below->xOpen(shim_below, copy_of_name ? copy_of_name : name, f, flags, out);
  if( copy_of_name && (rc!=SQLITE_OK || !f->pMethods) ){ free(copy_of_name); copy_of_name = 0; }
  if( rc==SQLITE_OK && f->pMethods && (copy_of_name || (flags & SQLITE_OPEN_MAIN_DB)) ){
    sqlite3_io_methods *copy = sqlite3_malloc(sizeof *copy);
    memcpy(copy, f->pMethods, sizeof *copy);
    copy->xClose = shimClose;
    TAIL(f)->orig = f->pMethods;
    TAIL(f)->name_copy = copy_of_name;
    f->pMethods = copy;
  }
  return rc;
}

static void register_shim(int make_default){
  shim_below = sqlite3_vfs_find(0);
  shim = *shim_below;
  shim.zName = "projlike";
  shim.pNext = 0;
  shim.szOsFile = shim_below->szOsFile + (int)sizeof(Tail);
  shim.xOpen = shimOpen;
  if( sqlite3_vfs_register(&shim, make_default) ){ fprintf(stderr, "register\n"); exit(2); }
}


static int header_is_wal(const char *path){
  unsigned char h[20];
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(h, 1, 20, f) : 0;
  if( f ) fclose(f);
  return n==20 && h[18]==2 && h[19]==2;
}

int main(int argc, char **argv){
  if( argc<4 ){ fprintf(stderr, "usage: shims LIBWALGUARD DIR above|below\n"); return 2; }
  copy_names = strcmp(argv[3], "namecopy")==0;
  int above = strcmp(argv[3], "above")==0 || copy_names;
  char path[4096], aux[4096], sql[8300], out[CHECK_TEXT];
  sqlite3 *loader, *db;
  snprintf(path, sizeof path, "%s/shims-%s.db", argv[2], argv[3]);
  snprintf(aux, sizeof aux, "%s/shims-%s-aux.db", argv[2], argv[3]);
  remove(path);
  remove(aux);

  if( !above ) register_shim(1);
  sqlite3_open(":memory:", &loader);
  sqlite3_enable_load_extension(loader, 1);
  char *err = 0;
  if( sqlite3_load_extension(loader, argv[1], 0, &err)!=SQLITE_OK ){ fprintf(stderr, "load: %s\n", err); return 2; }
  if( above ) register_shim(0);

  if( sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, above ? "projlike" : 0) ){ fprintf(stderr, "open\n"); return 2; }
  expect(!*run(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); "
                   "WITH s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<500) INSERT INTO t SELECT i FROM s;", out),
         "WAL, a table, 500 rows");
  expect(!*run(db, "PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO t VALUES(501);", out), "a checkpoint, a write");
  run(db, "PRAGMA walguard", out);
  expect(strcmp(out, "enforce")==0, "PRAGMA walguard says enforce");
  expect(strncmp(run(db, "PRAGMA journal_mode=DELETE", out), "walguard: refused journal_mode=DELETE", 37)==0,
         "the pragma downgrade is refused with walguard's message");
  run(db, "SELECT count(*) || ' ' || sum(x) FROM t", out);
  expect(strcmp(out, "501 125751")==0, "every row is there");
  run(db, "PRAGMA integrity_check", out);
  expect(strcmp(out, "ok")==0, "integrity_check ok");
  expect(sqlite3_close(db)==SQLITE_OK, "the file closes through the shim's copied table");
  /* Alone with the file (leaving WAL needs that), attached to a connection on another
  ** database: only the header layer sees an unprefixed downgrade. */
  sqlite3 *other;
  sqlite3_open_v2(aux, &other, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, above ? "projlike" : 0);
  snprintf(sql, sizeof sql, "ATTACH '%s' AS w; SELECT count(*) FROM w.t; PRAGMA journal_mode=DELETE;", path);
  const char *msg = run(other, sql, out);
  if( strcmp(msg, "disk I/O error")!=0 ) printf("     got: %s\n", msg);
  expect(strcmp(msg, "disk I/O error")==0, "the unprefixed downgrade of the attached file is refused at the header");
  sqlite3_close(other);
  expect(header_is_wal(path), "the header on disk is still 2,2");
  sqlite3_close(loader);
  printf("shims (%s): %d failed\n", argv[3], failures);
  return failures ? 1 : 0;
}
