package require sqlite3

# Load once, into any connection: every connection opened afterwards is guarded.
sqlite3 loader :memory:
loader enable_load_extension 1
loader eval {SELECT load_extension('./libwalguard')}

sqlite3 db app.db
puts [db eval {PRAGMA journal_mode=WAL}]
if {[catch {db eval {PRAGMA journal_mode=DELETE}} error]} {
    puts $error ;# walguard: refused journal_mode=DELETE on '/path/app.db': ...
}
db eval {INSERT INTO t VALUES (4)}
puts [db eval {SELECT count(*) FROM t}]
puts [lindex [db eval {PRAGMA wal_checkpoint(TRUNCATE)}] 0]
