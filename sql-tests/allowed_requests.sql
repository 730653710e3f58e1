-- What walguard never refuses: queries, WAL requests, unknown values (SQLite treats them
-- as queries), rollback modes on files that are not WAL, memory and temp databases.
.open app.db
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
PRAGMA journal_mode;
PRAGMA main.journal_mode;
PRAGMA journal_mode=WAL;
PRAGMA journal_mode=w;
PRAGMA journal_mode=WaL;
PRAGMA journal_mode=deletex;
PRAGMA journal_mode=walx;
PRAGMA journal_mode=42;
PRAGMA journal_size_limit=1000;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
-- A fresh file goes wherever it is told.
.open fresh.db
PRAGMA journal_mode=DELETE;
PRAGMA journal_mode=OFF;
CREATE TABLE t(x);
SELECT 'fresh header', hex(substr(readfile('fresh.db'),19,2));
-- A rollback file moves between rollback modes and up to WAL.
.open rollback.db
CREATE TABLE t(x);
PRAGMA journal_mode=TRUNCATE;
PRAGMA journal_mode=PERSIST;
PRAGMA journal_mode=MEMORY;
PRAGMA journal_mode=OFF;
PRAGMA journal_mode=DELETE;
INSERT INTO t VALUES(1);
PRAGMA journal_mode=WAL;
SELECT 'rollback header', hex(substr(readfile('rollback.db'),19,2));
-- Memory and temp databases.
.open :memory:
PRAGMA journal_mode=OFF;
PRAGMA journal_mode=MEMORY;
PRAGMA temp.journal_mode=DELETE;
CREATE TEMP TABLE tt(x);
INSERT INTO tt VALUES(1);
SELECT 'temp rows', count(*) FROM tt;
.open ''
PRAGMA journal_mode=DELETE;
CREATE TABLE t(x);
PRAGMA journal_mode;
