-- The natural order: open the database, then load walguard. The files the connection
-- already has open (main and attached) are guarded from the load on.
.open wal.db
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
INSERT INTO t VALUES(1),(2);
ATTACH 'aux.db' AS aux;
PRAGMA aux.journal_mode=WAL;
CREATE TABLE aux.a(x);
INSERT INTO aux.a VALUES(1);
PRAGMA walguard;
.log stdout
.load $LIB
.vfsname
.vfsname aux
PRAGMA walguard;
PRAGMA aux.walguard;
INSERT INTO t VALUES(3);
PRAGMA journal_mode=DELETE;
PRAGMA aux.journal_mode=TRUNCATE;
PRAGMA journal_mode=MEMORY;
SELECT 'headers', hex(substr(readfile('wal.db'),19,2)), hex(substr(readfile('aux.db'),19,2));
-- A database attached later is opened under the name of the connection's VFS, which is
-- walguard's now: guarded, whether or not the URI names walguard.
ATTACH 'later.db' AS later;
PRAGMA later.walguard;
ATTACH 'file:later2.db?vfs=walguard' AS later2;
PRAGMA later2.walguard;
.load $LIB
PRAGMA later.walguard;
-- Loading again adopts nothing twice.
.load $LIB
-- Work goes on through the adopted files: checkpoint, VACUUM, rows.
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
SELECT 'rows', count(*), sum(x) FROM t;
PRAGMA integrity_check;
SELECT 'end';
