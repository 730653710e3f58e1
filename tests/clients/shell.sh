sqlite3 :memory: -cmd '.load ./libwalguard' -cmd '.open app.db' <<'SQL'
PRAGMA journal_mode=WAL;
-- The "fallback" that corrupts shared databases is refused:
PRAGMA journal_mode=DELETE;
INSERT INTO t VALUES (4);
SELECT count(*) FROM t;
PRAGMA wal_checkpoint(TRUNCATE);
-- A downgrade the pragma's check never sees: main is another database (:memory: here) and
-- app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
-- (.open closes the first connection: with it open, SQLite itself refuses, database is locked.)
.open :memory:
ATTACH 'app.db' AS app;
PRAGMA journal_mode=DELETE;
SQL
printf 'header bytes 18,19: %s,%s\n' $(od -An -tu1 -j18 -N2 app.db) # 2,2: still WAL
