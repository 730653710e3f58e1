<?php
// walguard for every PHP script, the way sitecustomize.py does it for Python: PHP's SQLite
// modules are loaded with RTLD_DEEPBIND, so the LD_PRELOAD library never sees their calls.
// In php.ini (or with php -d):
//   auto_prepend_file = /usr/local/share/walguard/php/walguard.php
//   sqlite3.extension_dir = /usr/local/lib
// Loading into the SQLite3 class's SQLite also covers PDO (one SQLite). A failure is
// logged (error_log), never fatal.
(function () {
    try {
        $loader = new SQLite3(':memory:');
        $loader->enableExceptions(true);
        $loader->loadExtension('libwalguard.so');
        $loader->close();
    } catch (Throwable $error) {
        error_log('walguard php: SQLite is NOT guarded: ' . $error->getMessage());
    }
})();
