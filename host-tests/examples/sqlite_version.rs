//! Prints the version of the SQLite rusqlite bundles (for clients/run.sh's table).
fn main() {
    println!("{}", rusqlite::version());
}
