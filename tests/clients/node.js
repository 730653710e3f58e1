const Database = require("better-sqlite3");

// Load once, into any connection: every connection opened afterwards is guarded.
new Database(":memory:").loadExtension("./libwalguard");

const db = new Database("app.db");
console.log(db.pragma("journal_mode = WAL", { simple: true }));
try {
  db.pragma("journal_mode = DELETE"); // the "fallback" that corrupts shared databases
} catch (error) {
  console.log(error.message); // walguard: refused journal_mode=DELETE on '/path/app.db': ...
}
db.prepare("INSERT INTO t VALUES (4)").run();
console.log(db.prepare("SELECT count(*) FROM t").pluck().get());
console.log(db.pragma("wal_checkpoint(TRUNCATE)")[0].busy);

// A downgrade the pragma's check never sees: main is another database (:memory: here) and
// app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
// The first connection is closed first: with it open, SQLite itself refuses (database is locked).
db.close();
const other = new Database(":memory:");
other.exec("ATTACH 'app.db' AS app");
try {
  console.log(other.pragma("journal_mode = DELETE"));
} catch (error) {
  console.log(`${error.constructor.name} ${error.code}: ${error.message}`);
}
other.close();
const header = require("fs").readFileSync("app.db").subarray(18, 20);
console.log(`header bytes 18,19: ${header[0]},${header[1]}`); // 2,2: still WAL
