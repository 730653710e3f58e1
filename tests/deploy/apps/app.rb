# An application on Ruby's sqlite3 that knows nothing of walguard.
require "sqlite3"
db = SQLite3::Database.new("app.db")
begin
  puts db.get_first_value("PRAGMA journal_mode=DELETE")
rescue SQLite3::Exception => error
  puts error.message
end
puts db.get_first_value("SELECT count(*) FROM t")
