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
