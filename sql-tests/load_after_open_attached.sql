-- Loaded into a connection whose main database is rollback-mode and which has a WAL
-- database attached: the unprefixed pragma is refused at the attached file's header write.
.open aux.db
PRAGMA journal_mode=WAL;
CREATE TABLE a(x);
INSERT INTO a VALUES(1),(2);
.open main.db
CREATE TABLE m(x);
ATTACH 'aux.db' AS aux;
.load $LIB
PRAGMA journal_mode=DELETE;
SELECT 'aux header', hex(substr(readfile('aux.db'),19,2));
INSERT INTO aux.a VALUES(3);
SELECT 'aux rows', count(*) FROM aux.a;
PRAGMA aux.journal_mode;
PRAGMA aux.integrity_check;
