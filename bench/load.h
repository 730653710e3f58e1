/*
** Loading walguard into a benchmark process. walguard answers to the names of the default VFS
** and its variants once loaded (`unix`, ...), so the bare baseline is a copy of the default VFS
** registered first under the name "bare", which walguard does not wrap: both sides of a pair
** run in a process with the library loaded, and only "bare" skips it.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static sqlite3_vfs bare_vfs;

static int load_walguard(void){
  sqlite3 *db;
  char *err = 0;
  const char *lib = getenv("WALGUARD_LIB");
  sqlite3_initialize();
  bare_vfs = *sqlite3_vfs_find(0);
  bare_vfs.zName = "bare";
  bare_vfs.pNext = 0;
  if( sqlite3_vfs_register(&bare_vfs, 0)!=SQLITE_OK ){ fprintf(stderr, "register bare\n"); return 0; }
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, lib ? lib : "./libwalguard", 0, &err)!=SQLITE_OK ){
    fprintf(stderr, "load: %s\n", err);
    return 0;
  }
  sqlite3_close(db);
  return 1;
}
