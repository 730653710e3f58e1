/*
** Runs SQLite's speedtest1 with walguard loaded first, so that `--vfs walguard` names a
** registered VFS (`--vfs unix` is the bare baseline, with the same library loaded).
** speedtest1.c is compiled with -Dmain=speedtest1_main.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

int speedtest1_main(int argc, char **argv);

int main(int argc, char **argv){
  sqlite3 *db;
  char *err = 0;
  const char *lib = getenv("WALGUARD_LIB");
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, lib ? lib : "./libwalguard", 0, &err)!=SQLITE_OK ){
    fprintf(stderr, "load: %s\n", err);
    return 1;
  }
  sqlite3_close(db);
  return speedtest1_main(argc, argv);
}
