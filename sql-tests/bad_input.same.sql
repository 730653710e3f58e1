-- Files SQLite rejects or treats specially: walguard must give exactly the same answers.
.shell printf 'not a database at all, but long enough to have a header........................................................' > text.db
.open text.db
PRAGMA journal_mode=DELETE;
SELECT count(*) FROM sqlite_master;
.shell : > empty.db
.open empty.db
PRAGMA journal_mode;
PRAGMA journal_mode=DELETE;
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
.open wal.db
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
.open ':memory:'
.shell head -c 50 wal.db > short.db
.open short.db
PRAGMA journal_mode=DELETE;
SELECT count(*) FROM sqlite_master;
.shell mkdir -p 'dir with spaces/ünïcødé'
.open 'dir with spaces/ünïcødé/dåtä base.db'
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
INSERT INTO t VALUES('ok');
SELECT * FROM t;
.open 'file:dir%20with%20spaces/%C3%BCn%C3%AFc%C3%B8d%C3%A9/d%C3%A5t%C3%A4%20base.db?cache=private'
SELECT * FROM t;
.open 'file:wal.db?mode=ro'
PRAGMA journal_mode;
INSERT INTO t VALUES(1);
.open no/such/dir/x.db
SELECT 1;
.open 'dir with spaces'
SELECT 1;
