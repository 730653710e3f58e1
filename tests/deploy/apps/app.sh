# An application that knows nothing of walguard: the seed's "fall back to DELETE".
sqlite3 app.db 'PRAGMA journal_mode=DELETE;' 2>&1
sqlite3 app.db 'SELECT count(*) FROM t;'
