-- Each policy from the URI parameter, PRAGMA walguard, the SQL functions, the counters in
-- walguard_status() after each kind of event, and the log line of each event.
.log stdout
SELECT 'version looks like x.y.z', walguard_version() GLOB '[0-9]*.[0-9]*.[0-9]*';
SELECT 'status', walguard_status();
.open app.db
PRAGMA walguard;
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
INSERT INTO t VALUES(1),(2);
-- enforce (the default): refused, counted.
PRAGMA journal_mode=DELETE;
SELECT 'after enforce', walguard_status();
-- keep: answered with wal, nothing changes.
.open file:app.db?walguard=keep
PRAGMA walguard;
PRAGMA journal_mode=TRUNCATE;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
SELECT 'after keep', json_extract(walguard_status(), '$.kept');
-- strict: refused on WAL files, and on files that are not WAL yet.
.open file:app.db?walguard=strict
PRAGMA journal_mode=DELETE;
.open file:fresh.db?walguard=strict
PRAGMA walguard;
PRAGMA journal_mode=DELETE;
PRAGMA journal_mode=WAL;
SELECT 'after strict', json_extract(walguard_status(), '$.refused_pragmas');
-- warn: the downgrade happens, one log line, one count.
.open file:app.db?walguard=warn
PRAGMA walguard;
PRAGMA journal_mode=DELETE;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
SELECT 'after warn', json_extract(walguard_status(), '$.warned');
-- off: the deliberate path, logged at open and at the downgrade.
.open file:app.db?walguard=enforce
PRAGMA journal_mode=WAL;
.open file:app.db?walguard=off
PRAGMA walguard;
PRAGMA journal_mode=DELETE;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
SELECT 'rows', count(*) FROM t;
SELECT 'after off', walguard_status();
-- The header-write layer follows the policy of the attached file.
.open aux_keep.db
PRAGMA journal_mode=WAL;
CREATE TABLE a(x);
.open aux_warn.db
PRAGMA journal_mode=WAL;
CREATE TABLE a(x);
.open main.db
ATTACH 'file:aux_keep.db?walguard=keep' AS k;
PRAGMA journal_mode=DELETE;
SELECT 'keep header', hex(substr(readfile('aux_keep.db'),19,2));
DETACH k;
ATTACH 'file:aux_warn.db?walguard=warn' AS w;
PRAGMA journal_mode=DELETE;
SELECT 'warn header', hex(substr(readfile('aux_warn.db'),19,2));
SELECT 'after header writes', walguard_status();
-- A policy cannot be changed by pragma, and a bad one fails the open.
PRAGMA walguard=enforce;
.open file:app.db?walguard=Enforce
-- Not a guarded file: no row.
.open :memory:
PRAGMA walguard;
SELECT 'end';
