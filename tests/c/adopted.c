/*
** Files a connection opened before loading walguard (adopted at the load), in the cases a
** red-team review found:
**   plain    the default VFS is unix: a hot journal left by a crash in the middle of a switch to
**            WAL is played back through the adopted file, as without walguard;
**   cksumvfs a shim in SQLite's ext/misc/cksumvfs.c pattern is the default VFS (main databases
**            get its own table, journals the VFS below's): the same playback;
**   pdb      an application sends SQLITE_FCNTL_PDB itself with a pointer of its own: walguard
**            never reads through it (it takes the slot SQLite sends once, at the open).
** Each case runs in a child process (walguard is loaded once per process).
** Usage: adopted LIBWALGUARD DIR
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

static const char *lib;
static sqlite3_vfs crash_vfs, shim_vfs, *below;
static sqlite3_io_methods shim_methods;
static const sqlite3_io_methods *shim_orig;

static const char *header(const char *path){
  static char text[16];
  unsigned char h[20] = {0};
  FILE *f = fopen(path, "rb");
  if( f ){ if( fread(h, 1, 20, f)!=20 ) h[18] = h[19] = 0; fclose(f); }
  snprintf(text, sizeof text, "%d,%d", h[18], h[19]);
  return text;
}

static int crash_delete(sqlite3_vfs *v, const char *z, int s){
  size_t n = strlen(z);
  (void)v;
  if( n>8 && strcmp(z + n - 8, "-journal")==0 ) _exit(0); /* the crash: the journal stays, hot */
  return below->xDelete(below, z, s);
}

/* A rollback database of 3 rows, switched to WAL by a process that dies at the journal's
** deletion: header 2,2 on disk and a hot journal holding page 1 as it was (1,1). */
static void crashed_switch(const char *path){
  char journal[4200], out[CHECK_TEXT];
  sqlite3 *db;
  snprintf(journal, sizeof journal, "%s-journal", path);
  remove(path); remove(journal);
  sqlite3_open(path, &db);
  run(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1),(2),(3);", out);
  sqlite3_close(db);
  pid_t pid = fork();
  if( pid==0 ){
    below = sqlite3_vfs_find(0);
    crash_vfs = *below; crash_vfs.zName = "crash"; crash_vfs.xDelete = crash_delete; crash_vfs.pNext = 0;
    sqlite3_vfs_register(&crash_vfs, 0);
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "crash");
    run(db, "PRAGMA journal_mode=WAL", out);
    _exit(3); /* not reached when the crash happened */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  expect(WIFEXITED(status) && WEXITSTATUS(status)==0 && strcmp(header(path), "2,2")==0 && access(journal, F_OK)==0,
         "a crash in the middle of a switch to WAL left the header 2,2 and a hot journal");
}

static int shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o){ return shim_orig->xRead(f, b, n, o); }
static int shim_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out){
  (void)v;
  int rc = below->xOpen(below, name, f, flags, out);
  if( rc==SQLITE_OK && f->pMethods && (flags & SQLITE_OPEN_MAIN_DB) ){
    if( !shim_orig ){ shim_orig = f->pMethods; shim_methods = *shim_orig; shim_methods.xRead = shim_read; }
    f->pMethods = &shim_methods;
  }
  return rc;
}

static int load(sqlite3 *db){
  char *err = 0;
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, lib, 0, &err)!=SQLITE_OK ){ fprintf(stderr, "load: %s\n", err); return 0; }
  return 1;
}

/* In a child: open `path` (through the cksumvfs-style shim when asked), load walguard into that
** connection, read. Exit 0 when the hot journal was played back and the rows are there. */
static int playback_child(const char *path, int with_shim){
  char out[CHECK_TEXT], journal[4200];
  sqlite3 *db;
  snprintf(journal, sizeof journal, "%s-journal", path);
  if( with_shim ){
    below = sqlite3_vfs_find(0);
    shim_vfs = *below; shim_vfs.zName = "cksm"; shim_vfs.xOpen = shim_open; shim_vfs.pNext = 0;
    sqlite3_vfs_register(&shim_vfs, 1);
  }
  sqlite3_open(path, &db);
  if( !load(db) ) return 2;
  run(db, "PRAGMA walguard", out);
  if( strcmp(out, "enforce")!=0 ){ fprintf(stderr, "not adopted: '%s'\n", out); return 3; }
  const char *err = run(db, "SELECT count(*) FROM t", out);
  if( *err || strcmp(out, "3")!=0 ){ fprintf(stderr, "read: %s %s\n", err, out); return 4; }
  if( strcmp(header(path), "1,1")!=0 || access(journal, F_OK)==0 ){ fprintf(stderr, "not played back\n"); return 5; }
  sqlite3_close(db);
  return 0;
}

static int pdb_child(const char *path){
  char out[CHECK_TEXT];
  sqlite3 *loader, *db;
  remove(path);
  sqlite3_open(":memory:", &loader);
  if( !load(loader) ) return 2;
  sqlite3_open(path, &db);
  run(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);", out);
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PDB, (void *)16);
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PDB, 0);
  const char *err = run(db, "PRAGMA journal_mode=DELETE", out);
  if( strncmp(err, "walguard: refused journal_mode=DELETE", 37)!=0 ){ fprintf(stderr, "pragma: %s\n", err); return 3; }
  return strcmp(header(path), "2,2")==0 ? 0 : 4;
}

static int in_child(int (*body)(const char *, int), const char *path, int arg){
  pid_t pid = fork();
  if( pid==0 ) _exit(body(path, arg));
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int pdb_body(const char *path, int unused){ (void)unused; return pdb_child(path); }

int main(int argc, char **argv){
  if( argc<3 ){ fprintf(stderr, "usage: adopted LIBWALGUARD DIR\n"); return 2; }
  lib = argv[1];
  char path[4200];
  snprintf(path, sizeof path, "%s/adopted.db", argv[2]);
  crashed_switch(path);
  expect(in_child(playback_child, path, 0)==0, "plain: the adopted file plays the hot journal back");
  crashed_switch(path);
  expect(in_child(playback_child, path, 1)==0, "cksumvfs below: the adopted file plays the hot journal back");
  expect(in_child(pdb_body, path, 0)==0, "pdb: an application's SQLITE_FCNTL_PDB is not read through; the downgrade is refused");
  printf("adopted: %d failed\n", failures);
  return failures ? 1 : 0;
}
