# An application whose first connection ATTACHes the WAL database, then falls back.
sqlite3 main.db "ATTACH 'app.db' AS aux; PRAGMA aux.journal_mode=DELETE;" 2>&1
sqlite3 app.db 'SELECT count(*) FROM t;'
