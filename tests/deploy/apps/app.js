// An application that knows nothing of walguard: the seed's "fall back to DELETE".
const Database = require("better-sqlite3");
const db = new Database("app.db");
try {
  console.log(db.pragma("journal_mode = DELETE", { simple: true }));
} catch (error) {
  console.log(error.message);
}
console.log(db.prepare("SELECT count(*) FROM t").pluck().get());
