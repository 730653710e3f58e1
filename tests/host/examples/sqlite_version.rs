//! Prints the version of the SQLite rusqlite bundles (for tests/clients/run.sh's table).
fn main() {
    println!("{}", rusqlite::version());
}
