/*
** What the C tests share: a checklist that counts failures, and running SQL for the first
** column of its last row. Include once per program.
*/
#include <sqlite3.h>
#include <stdio.h>

/* Room for one answer or error message. */
#define CHECK_TEXT 1024

static int failures;

static void expect(int ok, const char *what){
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if( !ok ) failures++;
}

static int text_cb(void *out, int n, char **v, char **c){
  (void)n; (void)c;
  snprintf((char *)out, CHECK_TEXT, "%s", v[0] ? v[0] : "NULL");
  return 0;
}

/* Run `sql`; the first column of the last row into `out` (CHECK_TEXT bytes); the error message,
** or "" when there is none, as the result. */
static const char *run(sqlite3 *db, const char *sql, char *out){
  static char err_copy[CHECK_TEXT];
  char *err = 0;
  out[0] = 0;
  if( sqlite3_exec(db, sql, text_cb, out, &err)!=SQLITE_OK ){
    snprintf(err_copy, sizeof err_copy, "%s", err ? err : "?");
    sqlite3_free(err);
    return err_copy;
  }
  return "";
}
