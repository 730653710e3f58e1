/* A module that bundles a "SQLite" exporting its API, as pysqlite3-binary and npm's sqlite3
** do, but one walguard cannot be loaded into: too old (VERSION below 3031001) or built
** without extension loading (NO_LOAD_EXTENSION). Its open answers 42 so the caller can tell
** its own definition was reached. */
int sqlite3_libversion_number(void){ return VERSION; }
int sqlite3_open_v2(const char *name, void **db, int flags, const char *vfs){
  (void)name; (void)flags; (void)vfs;
  *db = 0;
  return 42;
}
#ifndef NO_LOAD_EXTENSION
int sqlite3_load_extension(void *db, const char *file, const char *proc, char **error){
  (void)db; (void)file; (void)proc; (void)error;
  return 1;
}
#endif
/* The module's own code, calling its SQLite through the PLT (interposable). */
int module_open(void){
  void *db;
  return sqlite3_open_v2("app.db", &db, 2, 0);
}
