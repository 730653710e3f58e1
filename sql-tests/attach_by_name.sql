-- No way around the guard by name (issue 23): SQLite finds a VFS by name for ATTACH (under
-- the attaching connection's VFS's name), for vfs= URIs and for sqlite3_open_v2, and
-- walguard answers to the names of the VFSes it wraps. The README's shell usage first: a
-- connection opened before the load, which ATTACHes a WAL database after it.
.open app.db
CREATE TABLE t(x);
ATTACH 'other.db' AS prep;
PRAGMA prep.journal_mode=WAL;
CREATE TABLE prep.t(x);
INSERT INTO prep.t VALUES(1),(2);
DETACH prep;
.load $LIB
ATTACH 'other.db' AS o;
.vfsname o
PRAGMA o.walguard;
PRAGMA o.journal_mode=DELETE;
SELECT 'header', hex(substr(readfile('other.db'),19,2));
DETACH o;
-- Every name of the default VFS and its variants reaches walguard.
ATTACH 'file:other.db?vfs=unix' AS u;
.vfsname u
PRAGMA u.journal_mode=DELETE;
DETACH u;
ATTACH 'file:other.db?vfs=unix-excl' AS e;
.vfsname e
PRAGMA e.journal_mode=TRUNCATE;
DETACH e;
ATTACH 'file:other.db?vfs=walguard' AS w;
.vfsname w
PRAGMA w.journal_mode=OFF;
DETACH w;
-- The same through the header layer: an unprefixed downgrade reaches attached files only
-- as a header write.
ATTACH 'file:other.db?vfs=unix' AS h;
PRAGMA journal_mode=DELETE;
DETACH h;
SELECT 'header', hex(substr(readfile('other.db'),19,2));
-- The deliberate path is the one way past it.
ATTACH 'file:other.db?vfs=unix&walguard=off' AS off;
PRAGMA off.walguard;
PRAGMA off.journal_mode=DELETE;
SELECT 'header', hex(substr(readfile('other.db'),19,2));
SELECT 'rows', count(*), sum(x) FROM off.t;
SELECT 'names', json_extract(walguard_status(), '$.vfs_names');
