/** The path of the libwalguard shared library shipped in this package. */
export function getLoadablePath(): string;
/** Load walguard into a better-sqlite3 Database: every database opened afterwards is guarded. */
export function load(db: { loadExtension(path: string): unknown }): void;
