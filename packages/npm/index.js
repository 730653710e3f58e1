"use strict";
// walguard for Node: load the SQLite extension that refuses WAL -> rollback downgrades.
const path = require("path");

/** The path of the libwalguard shared library shipped in this package. */
function getLoadablePath() {
  return path.join(__dirname, "lib", "libwalguard.so");
}

/**
 * Load walguard into a better-sqlite3 Database. walguard becomes the default VFS of that
 * SQLite library, so every database opened afterwards is guarded (better-sqlite3 has no
 * URI filenames, so the default VFS is what counts); the files `db` has open are guarded too.
 */
function load(db) {
  if (!db || typeof db.loadExtension !== "function") {
    throw new TypeError("walguard.load(db): db must be a better-sqlite3 Database");
  }
  db.loadExtension(getLoadablePath());
}

module.exports = { getLoadablePath, load };
