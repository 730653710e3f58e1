"use strict";
// walguard for Node: load the SQLite extension that refuses WAL -> rollback downgrades.
//
// One package carries the library of every platform it supports, lib/<platform>-<arch>/
// (linux-x64 and linux-arm64 in a release), and picks the one of this process. Not one
// package per platform (optionalDependencies, as sqlite-vec does): each library is a few
// hundred kB, and a single package installs from its tarball alone, offline, and from a
// lockfile written on another architecture, where npm's optional dependencies are known to
// go missing.
const fs = require("fs");
const path = require("path");

/** The path of the libwalguard shared library for this platform and architecture. */
function getLoadablePath() {
  const dir = `${process.platform}-${process.arch}`;
  const file = path.join(__dirname, "lib", dir, "libwalguard.so");
  if (!fs.existsSync(file)) {
    const shipped = fs.existsSync(path.join(__dirname, "lib")) ? fs.readdirSync(path.join(__dirname, "lib")) : [];
    throw new Error(`walguard: no library for ${dir} in this package (it has: ${shipped.join(", ") || "none"})`);
  }
  return file;
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
