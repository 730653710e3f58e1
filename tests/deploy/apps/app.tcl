# An application that knows nothing of walguard: the seed's "fall back to DELETE".
package require sqlite3
sqlite3 db app.db
if {[catch {db eval {PRAGMA journal_mode=DELETE}} result]} {
    puts $result
} else {
    puts $result
}
puts [db eval {SELECT count(*) FROM t}]
