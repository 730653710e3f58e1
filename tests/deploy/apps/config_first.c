/* An application that configures SQLite before initialising it (sqlite3_config must precede
** sqlite3_initialize, which the first open performs), then falls back to DELETE. Under the
** preload its configuration must still be accepted and in force. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int logged = 0;
static void logger(void *arg, int code, const char *message){
  (void)arg; (void)code; (void)message;
  logged++;
}

int main(void){
  int rc_log = sqlite3_config(SQLITE_CONFIG_LOG, logger, (void *)0);
  int rc_uri = sqlite3_config(SQLITE_CONFIG_URI, 1);
  printf("config before the first open: %d %d\n", rc_log, rc_uri);
  sqlite3 *db;
  /* A URI filename with no SQLITE_OPEN_URI flag: accepted only if CONFIG_URI is in force. */
  int rc = sqlite3_open_v2("file:app.db?cache=private", &db, SQLITE_OPEN_READWRITE, 0);
  printf("open: %d\n", rc);
  char *error = 0;
  sqlite3_exec(db, "PRAGMA journal_mode=DELETE", 0, 0, &error);
  printf("%s\n", error ? error : "delete");
  sqlite3_free(error);
  sqlite3_exec(db, "SELECT * FROM no_such_table", 0, 0, 0); /* SQLite logs this error */
  printf("the application's log callback called: %s\n", logged ? "yes" : "no");
  printf("config after the first open: %d\n", sqlite3_config(SQLITE_CONFIG_URI, 0));
  sqlite3_close(db);
  return 0;
}
