sqlite3 :memory: -cmd '.load ./libwalguard' -cmd '.open app.db' <<'SQL'
CREATE TABLE IF NOT EXISTS t(x);
PRAGMA journal_mode=WAL;     -- app.db is a WAL database
PRAGMA walguard;             -- guarded, with the default policy
PRAGMA journal_mode=DELETE;  -- the "fallback" that corrupts shared databases: refused
INSERT INTO t VALUES (4);    -- and the database goes on working, in WAL
PRAGMA journal_mode;
SQL
