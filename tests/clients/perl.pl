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

# A downgrade the pragma's check never sees: main is another database (:memory: here) and
# app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
# The first connection is closed first: with it open, SQLite itself refuses (database is locked).
$db->disconnect;
my $other = DBI->connect("dbi:SQLite:dbname=:memory:", "", "", { RaiseError => 1, PrintError => 0 });
$other->do("ATTACH 'app.db' AS app");
if (eval { $other->do("PRAGMA journal_mode=DELETE"); 1 }) {
    print "no error\n";
} else {
    print "error ", $other->err, ": ", $other->errstr, "\n";
}
$other->disconnect;
open my $file, "<:raw", "app.db" or die "app.db: $!";
seek $file, 18, 0;
read $file, my $header, 2;
close $file;
printf "header bytes 18,19: %d,%d\n", unpack("C2", $header); # 2,2: still WAL
