<?php
// An application on PHP's PDO that knows nothing of walguard.
$db = new PDO('sqlite:app.db');
try {
    echo $db->query('PRAGMA journal_mode=DELETE')->fetchColumn(), "\n";
} catch (PDOException $error) {
    echo $error->getMessage(), "\n";
}
echo $db->query('SELECT count(*) FROM t')->fetchColumn(), "\n";
