use rusqlite::Connection;

fn main() -> rusqlite::Result<()> {
    // Load once, into any connection: every connection opened afterwards is guarded.
    let loader = Connection::open_in_memory()?;
    // SAFETY: loading a trusted extension.
    unsafe {
        loader.load_extension_enable()?;
        loader.load_extension("./libwalguard", None::<&str>)?;
    }

    let conn = Connection::open("app.db")?;
    println!("{}", conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?);
    // The "fallback" that corrupts shared databases:
    if let Err(error) = conn.execute_batch("PRAGMA journal_mode=DELETE") {
        println!("{error}"); // walguard: refused journal_mode=DELETE on '/path/app.db': ...
    }
    conn.execute("INSERT INTO t VALUES (4)", [])?;
    println!("{}", conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?);
    println!("{}", conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))?);

    // A downgrade the pragma's check never sees: main is another database (:memory: here) and
    // app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
    // The first connection is closed first: with it open, SQLite itself refuses (database is locked).
    drop(conn);
    let other = Connection::open_in_memory()?;
    other.execute_batch("ATTACH 'app.db' AS app")?;
    match other.execute_batch("PRAGMA journal_mode=DELETE") {
        // execute_batch steps the pragma once (its row) and finalizes it:
        // the commit fails there, unreported
        Ok(()) => println!("no error"),
        Err(error) => println!("{error:?}"),
    }
    drop(other);
    let header = std::fs::read("app.db").expect("app.db");
    println!("header bytes 18,19: {},{}", header[18], header[19]); // 2,2: still WAL
    Ok(())
}
