/* make release, cross builds only (aarch64 on an x86_64 machine): the stdarg.h bindgen sees
 * when it generates the extension's bindings from third_party/sqlite-3.31.1/sqlite3ext.h.
 *
 * libsqlite3-sys, when cross-compiling, drops the `va_list` type from the bindings but keeps
 * the three members of sqlite3_api_routines that take one (vmprintf, xvsnprintf,
 * str_vappendf), which then fail to compile. With va_list read as `void *` they become
 * function pointers taking a `*mut c_void`, exactly as in libsqlite3-sys's own pregenerated
 * loadable-extension bindings: the table's layout (one pointer per member) is unchanged, and
 * neither libsqlite3-sys nor walguard calls these three. sqlite3.h needs nothing else from
 * stdarg.h. */
#define va_list void *
