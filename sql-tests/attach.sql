-- An unprefixed PRAGMA journal_mode=DELETE changes every attached database without sending
-- the pragma to their files: the header-write layer refuses it for the WAL one.
.open aux.db
PRAGMA journal_mode=WAL;
CREATE TABLE a(x);
INSERT INTO a VALUES(1),(2);
.open main.db
.log stdout
CREATE TABLE m(x);
ATTACH 'aux.db' AS aux;
PRAGMA journal_mode=DELETE;
SELECT 'aux header', hex(substr(readfile('aux.db'),19,2));
SELECT 'main header', hex(substr(readfile('main.db'),19,2));
-- The same connection keeps working and goes back to WAL at its next transaction.
INSERT INTO aux.a VALUES(3);
PRAGMA aux.journal_mode;
SELECT 'aux rows', count(*), sum(x) FROM aux.a;
PRAGMA aux.integrity_check;
-- A prefixed pragma is refused at prepare time, by the file-control.
PRAGMA aux.journal_mode=TRUNCATE;
SELECT 'aux header', hex(substr(readfile('aux.db'),19,2));
