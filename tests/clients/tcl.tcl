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

# A downgrade the pragma's check never sees: main is another database (:memory: here) and
# app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
# The first connection is closed first: with it open, SQLite itself refuses (database is locked).
db close
sqlite3 other :memory:
other eval {ATTACH 'app.db' AS app}
if {[catch {other eval {PRAGMA journal_mode=DELETE}} result]} {
    puts "$result ([other errorcode])"
} else {
    puts "no error: $result"
}
other close
set file [open app.db rb]
seek $file 18
binary scan [read $file 2] cu2 header
close $file
puts "header bytes 18,19: [join $header ,]" ;# 2,2: still WAL
