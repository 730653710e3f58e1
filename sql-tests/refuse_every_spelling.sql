-- Every rollback mode, spelt every way SQLite accepts, is refused on a WAL file.
.open app.db
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
INSERT INTO t VALUES(1),(2),(3);
PRAGMA journal_mode=DELETE;
PRAGMA journal_mode=delete;
PRAGMA journal_mode=De;
PRAGMA journal_mode=d;
PRAGMA journal_mode='';
PRAGMA journal_mode=TRUNCATE;
PRAGMA journal_mode=trunc;
PRAGMA journal_mode=t;
PRAGMA journal_mode=Persist;
PRAGMA journal_mode=p;
PRAGMA journal_mode=OFF;
PRAGMA journal_mode=o;
PRAGMA journal_mode=MEMORY;
PRAGMA journal_mode=m;
PRAGMA journal_mode("delete");
PRAGMA main.journal_mode=delete;
PRAGMA MAIN.JOURNAL_MODE=DELETE;
-- Nothing changed, nothing lost, the connection still works.
SELECT 'header', hex(substr(readfile('app.db'),19,2));
PRAGMA journal_mode;
INSERT INTO t VALUES(4);
SELECT 'rows', count(*), sum(x) FROM t;
PRAGMA integrity_check;
