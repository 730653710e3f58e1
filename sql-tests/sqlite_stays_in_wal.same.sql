-- Where SQLite itself does not leave WAL, walguard answers exactly as SQLite does (this
-- script must print the same with and without walguard): inside a transaction, a read-only,
-- immutable or nolock open, and journal_mode=OFF in defensive mode (a query there).
.open app.db
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
INSERT INTO t VALUES(1);
-- Inside a write transaction SQLite answers the current mode and changes nothing.
BEGIN;
INSERT INTO t VALUES(2);
PRAGMA journal_mode=DELETE;
PRAGMA journal_mode=TRUNCATE;
ROLLBACK;
-- Inside a read transaction, or a BEGIN with nothing done yet, it fails with its own message.
BEGIN;
SELECT count(*) FROM t;
PRAGMA journal_mode=DELETE;
ROLLBACK;
BEGIN IMMEDIATE;
PRAGMA journal_mode=PERSIST;
ROLLBACK;
-- Defensive mode: OFF is a query.
.dbconfig defensive on
PRAGMA journal_mode=OFF;
.dbconfig defensive off
SELECT 'header', hex(substr(readfile('app.db'),19,2));
-- Read-only and immutable opens.
.open --readonly app.db
PRAGMA journal_mode=DELETE;
.open file:app.db?immutable=1
PRAGMA journal_mode=DELETE;
SELECT count(*) FROM t;
.open file:app.db?mode=ro
PRAGMA journal_mode=MEMORY;
.open app.db
SELECT 'header', hex(substr(readfile('app.db'),19,2));
SELECT count(*) FROM t;
