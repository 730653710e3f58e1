/*
** Two copies of libwalguard.so from different paths in one process (the pip package's next to
** the installed one, or an application's next to the preload's):
**
**   twocopies LIBWALGUARD DIR
**
** Copy 1 is loaded; a connection opens a WAL database and reads it; a copy of the library
** from another directory is loaded into that connection. The second copy must defer to the
** first: reads, writes and checkpoints go on, the downgrade is refused, walguard_status() tells
** the same from every connection, and nothing hangs or crashes. Exits 0 on success.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include <sys/stat.h>


static int copy_file(const char *from, const char *to){
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  char buf[65536];
  size_t n;
  if( !in || !out ) return 1;
  while( (n = fread(buf, 1, sizeof buf, in))>0 ) fwrite(buf, 1, n, out);
  fclose(in);
  return fclose(out);
}

int main(int argc, char **argv){
  if( argc<3 ){ fprintf(stderr, "usage: twocopies LIBWALGUARD DIR\n"); return 2; }
  char path[4096], copy_dir[4096], copy[4200], out[CHECK_TEXT], status1[CHECK_TEXT], status2[CHECK_TEXT];
  snprintf(path, sizeof path, "%s/twocopies.db", argv[2]);
  snprintf(copy_dir, sizeof copy_dir, "%s/copy", argv[2]);
  snprintf(copy, sizeof copy, "%s/libwalguard.so", copy_dir);
  remove(path);
  mkdir(copy_dir, 0755);
  if( copy_file(argv[1], copy) ){
    fprintf(stderr, "cannot copy the library\n");
    return 2;
  }

  sqlite3 *loader, *db, *other;
  char *err = 0;
  sqlite3_open(":memory:", &loader);
  sqlite3_enable_load_extension(loader, 1);
  if( sqlite3_load_extension(loader, argv[1], 0, &err)!=SQLITE_OK ){ fprintf(stderr, "load: %s\n", err); return 2; }

  sqlite3_open(path, &db);
  expect(!*run(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1),(2),(3); SELECT count(*) FROM t;", out),
         "a WAL database, open and read, before the second copy");
  sqlite3_enable_load_extension(db, 1);
  expect(sqlite3_load_extension(db, copy, 0, &err)==SQLITE_OK, "the second copy loads");
  sqlite3_open(path, &other);
  expect(!*run(db, "INSERT INTO t VALUES(4)", out) && !*run(other, "INSERT INTO t VALUES(5)", out), "writes through both connections");
  expect(!*run(db, "PRAGMA wal_checkpoint(TRUNCATE)", out), "a checkpoint");
  run(db, "PRAGMA walguard", out);
  expect(strcmp(out, "enforce")==0, "PRAGMA walguard says enforce");
  expect(strncmp(run(db, "PRAGMA journal_mode=DELETE", out), "walguard: refused journal_mode=DELETE", 37)==0, "the downgrade is refused");
  run(db, "SELECT walguard_status()", status1);
  run(other, "SELECT walguard_status()", status2);
  expect(strcmp(status1, status2)==0 && strstr(status1, "\"refused_pragmas\":1")!=0, "one walguard_status(), from the copy in charge");
  run(db, "SELECT count(*) || ' ' || sum(x) FROM t", out);
  expect(strcmp(out, "5 15")==0, "every row is there");
  expect(sqlite3_close(other)==SQLITE_OK && sqlite3_close(db)==SQLITE_OK, "both connections close");
  sqlite3_close(loader);
  printf("twocopies: %d failed\n", failures);
  return failures ? 1 : 0;
}
