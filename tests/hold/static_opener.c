/* Opens a database with the SQLite compiled into this executable, reads it, says "ready",
   and keeps it open until stdin closes. */
#include <stdio.h>
#include "sqlite3.h"
int main(int argc, char **argv) {
  sqlite3 *db;
  if (argc < 2 || sqlite3_open(argv[1], &db) != SQLITE_OK) return 1;
  if (sqlite3_exec(db, "SELECT count(*) FROM t", 0, 0, 0) != SQLITE_OK) return 1;
  printf("ready %s\n", sqlite3_libversion());
  fflush(stdout);
  while (getchar() != EOF) {}
  sqlite3_close(db);
  return 0;
}
