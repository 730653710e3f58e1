use strict;
use warnings;
use DBI;

# Load once, into any connection: every connection opened afterwards is guarded.
my $loader = DBI->connect("dbi:SQLite:dbname=:memory:", "", "", { RaiseError => 1 });
$loader->sqlite_enable_load_extension(1);
$loader->sqlite_load_extension("./libwalguard");

my $db = DBI->connect("dbi:SQLite:dbname=app.db", "", "", { RaiseError => 1, PrintError => 0 });
print $db->selectrow_array("PRAGMA journal_mode=WAL"), "\n";
# The "fallback" that corrupts shared databases:
if (!eval { $db->do("PRAGMA journal_mode=DELETE"); 1 }) {
    print "error ", $db->err, ": ", $db->errstr, "\n"; # error 1: walguard: refused ...
}
$db->do("INSERT INTO t VALUES (4)");
print $db->selectrow_array("SELECT count(*) FROM t"), "\n";
my ($busy) = $db->selectrow_array("PRAGMA wal_checkpoint(TRUNCATE)");
print "$busy\n";
