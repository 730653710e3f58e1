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
