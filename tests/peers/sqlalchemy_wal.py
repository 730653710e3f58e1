"""pytest plugin (`-p sqlalchemy_wal`): every SQLite connection that SQLAlchemy's tests check out
of a pool is switched to WAL, its main database and the ones it has attached (the test suite
attaches test_schema.db to each connection), as an application that sets WAL on connect does.
Plain SQLAlchemy tests never use WAL; with this they run the files walguard guards.
"""
from sqlalchemy import event
from sqlalchemy.pool import Pool


@event.listens_for(Pool, "checkout")
def _wal(dbapi_connection, connection_record, connection_proxy):
    if connection_record.info.get("peers_wal"):
        return
    connection_record.info["peers_wal"] = True
    if type(dbapi_connection).__module__.split(".")[0] not in ("sqlite3", "_sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    try:
        # Unprefixed: main and every attached database; :memory: answers "memory".
        cursor.execute("PRAGMA journal_mode=WAL").fetchall()
    finally:
        cursor.close()
