<?php
// PDO has no loadExtension(): load walguard once through the SQLite3 class (same SQLite),
// and every PDO connection opened afterwards is guarded.
$loader = new SQLite3(':memory:');
$loader->enableExceptions(true); // a failed load throws, rather than warn and go on unguarded
$loader->loadExtension('libwalguard.so');

$db = new PDO('sqlite:app.db'); // PHP 8: PDO::ERRMODE_EXCEPTION by default
echo $db->query('PRAGMA journal_mode=WAL')->fetchColumn(), "\n";
try {
    $db->exec('PRAGMA journal_mode=DELETE'); // the "fallback" that corrupts shared databases
} catch (PDOException $error) {
    echo get_class($error), ': ', $error->getMessage(), "\n"; // PDOException: SQLSTATE[HY000]: General error: 1 walguard: refused ...
}
$db->exec('INSERT INTO t VALUES (4)');
echo $db->query('SELECT count(*) FROM t')->fetchColumn(), "\n";
echo $db->query('PRAGMA wal_checkpoint(TRUNCATE)')->fetchColumn(), "\n";

// A downgrade the pragma's check never sees: main is another database (:memory: here) and
// app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
// The first connection is closed first: with it open, SQLite itself refuses (database is locked).
$db = null; // closes the connection
$other = new PDO('sqlite::memory:');
$other->exec("ATTACH 'app.db' AS app");
try {
    $other->exec('PRAGMA journal_mode=DELETE');
    echo "no error\n";
} catch (PDOException $error) {
    echo get_class($error), ': ', $error->getMessage(), "\n";
}
$other = null;
$header = file_get_contents('app.db', false, null, 18, 2);
echo 'header bytes 18,19: ', ord($header[0]), ',', ord($header[1]), "\n"; // 2,2: still WAL
