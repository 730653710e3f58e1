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
