/** The path of the libwalguard shared library for this platform and architecture (throws when the package has none). */
export function getLoadablePath(): string;
/** Load walguard into a better-sqlite3 Database: every database opened afterwards is guarded. */
export function load(db: { loadExtension(path: string): unknown }): void;
