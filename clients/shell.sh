sqlite3 :memory: -cmd '.load ./libwalguard' -cmd '.open app.db' <<'SQL'
PRAGMA journal_mode=WAL;
-- The "fallback" that corrupts shared databases is refused:
PRAGMA journal_mode=DELETE;
INSERT INTO t VALUES (4);
SELECT count(*) FROM t;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
