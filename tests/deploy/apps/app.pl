# An application on Perl's DBD::SQLite that knows nothing of walguard.
use strict;
use warnings;
use DBI;
my $db = DBI->connect("dbi:SQLite:dbname=app.db", "", "", { RaiseError => 0, PrintError => 0 });
my ($mode) = $db->selectrow_array("PRAGMA journal_mode=DELETE");
print defined $mode ? $mode : $db->errstr, "\n";
my ($n) = $db->selectrow_array("SELECT count(*) FROM t");
print "$n\n";
