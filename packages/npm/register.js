"use strict";
// node --require sqlite-walguard/register app.js
// Loads walguard into better-sqlite3's SQLite before the application runs, so every
// database it opens is guarded with no change to its code. better-sqlite3 is resolved from
// the application's directory.
const path = require("path");

try {
  const paths = [process.cwd(), path.dirname(require.main ? require.main.filename : process.cwd())];
  const Database = require(require.resolve("better-sqlite3", { paths: [...paths, ...module.paths] }));
  require("./index.js").load(new Database(":memory:"));
} catch (error) {
  process.stderr.write(`walguard register: SQLite is NOT guarded: ${error.message}\n`);
}
