-- .vfsname names walguard over the default VFS; walguard=off is the deliberate path.
.open app.db
.vfsname
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
INSERT INTO t VALUES(1);
ATTACH 'other.db' AS other;
.vfsname other
.open file:app.db?walguard=off
.vfsname
PRAGMA journal_mode=DELETE;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
SELECT 'rows', count(*) FROM t;
.open file:app.db?walguard=enforce
PRAGMA journal_mode=WAL;
PRAGMA journal_mode=DELETE;
.open file:app.db?walguard=bogus
.open app.db
SELECT 'header', hex(substr(readfile('app.db'),19,2));
