require "sqlite3"

# Load once, into any connection: every connection opened afterwards is guarded.
loader = SQLite3::Database.new(":memory:")
loader.enable_load_extension(true)
loader.load_extension("./libwalguard")

db = SQLite3::Database.new("app.db")
puts db.get_first_value("PRAGMA journal_mode=WAL")
begin
  db.execute("PRAGMA journal_mode=DELETE") # the "fallback" that corrupts shared databases
rescue SQLite3::Exception => error
  puts "#{error.class}: #{error.message}" # SQLite3::SQLException: walguard: refused ...
end
db.execute("INSERT INTO t VALUES (4)")
puts db.get_first_value("SELECT count(*) FROM t")
puts db.get_first_value("PRAGMA wal_checkpoint(TRUNCATE)")

# A downgrade the pragma's check never sees: main is another database (:memory: here) and
# app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
# The first connection is closed first: with it open, SQLite itself refuses (database is locked).
db.close
other = SQLite3::Database.new(":memory:")
other.execute("ATTACH 'app.db' AS app")
begin
  p other.execute("PRAGMA journal_mode=DELETE")
rescue SQLite3::Exception => error
  puts "#{error.class}: #{error.message}"
end
other.close
header = File.binread("app.db", 2, 18).bytes
puts "header bytes 18,19: #{header[0]},#{header[1]}" # 2,2: still WAL
