-- env: WALGUARD_POLICY=keep
-- The environment sets the process default; the URI parameter overrides it per file.
SELECT 'policy', json_extract(walguard_status(), '$.policy');
.open app.db
PRAGMA walguard;
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
PRAGMA journal_mode=DELETE;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
.open file:app.db?walguard=enforce
PRAGMA walguard;
PRAGMA journal_mode=DELETE;
SELECT 'status', walguard_status();
