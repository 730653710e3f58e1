// An application on npm's sqlite3 (a bundled SQLite that exports its API from an addon Node
// loads privately), knowing nothing of walguard: the seed's "fall back to DELETE".
const sqlite3 = require("sqlite3");
const db = new sqlite3.Database("app.db", (error) => {
  if (error) return console.log(`open: ${error.message}`);
  db.run("PRAGMA journal_mode=DELETE", (error) => {
    console.log(error ? error.message : "delete");
    db.get("SELECT count(*) AS n FROM t", (error, row) => {
      console.log(error ? error.message : row.n);
      db.close();
    });
  });
});
