<?php
// Load once, into any connection: every connection opened afterwards is guarded.
// loadExtension() takes a name inside the directory php.ini's sqlite3.extension_dir names.
$loader = new SQLite3(':memory:');
$loader->enableExceptions(true); // a failed load throws, rather than warn and go on unguarded
$loader->loadExtension('libwalguard.so');

$db = new SQLite3('app.db');
$db->enableExceptions(true);
echo $db->querySingle('PRAGMA journal_mode=WAL'), "\n";
try {
    $db->exec('PRAGMA journal_mode=DELETE'); // the "fallback" that corrupts shared databases
} catch (Exception $error) {
    echo get_class($error), ': ', $error->getMessage(), "\n"; // Exception: walguard: refused ...
}
$db->exec('INSERT INTO t VALUES (4)');
echo $db->querySingle('SELECT count(*) FROM t'), "\n";
echo $db->querySingle('PRAGMA wal_checkpoint(TRUNCATE)'), "\n";

// A downgrade the pragma's check never sees: main is another database (:memory: here) and
// app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
// The first connection is closed first: with it open, SQLite itself refuses (database is locked).
$db->close();
$other = new SQLite3(':memory:');
$other->enableExceptions(true);
$other->exec("ATTACH 'app.db' AS app");
try {
    $other->exec('PRAGMA journal_mode=DELETE');
    echo "no error\n";
} catch (Exception $error) {
    echo get_class($error), ': ', $error->getMessage(), "\n";
}
$other->close();
$header = file_get_contents('app.db', false, null, 18, 2);
echo 'header bytes 18,19: ', ord($header[0]), ',', ord($header[1]), "\n"; // 2,2: still WAL
