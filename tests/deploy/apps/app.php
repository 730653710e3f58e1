<?php
// An application on PHP's SQLite3 class that knows nothing of walguard.
$db = new SQLite3('app.db');
$db->enableExceptions(true);
try {
    echo $db->querySingle('PRAGMA journal_mode=DELETE'), "\n";
} catch (Exception $error) {
    echo $error->getMessage(), "\n";
}
echo $db->querySingle('SELECT count(*) FROM t'), "\n";
