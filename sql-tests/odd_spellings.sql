-- The shell fed odd spellings of the pragma: walguard refuses exactly those SQLite resolves
-- to a rollback mode, and nothing crashes.
.open app.db
PRAGMA journal_mode=WAL;
CREATE TABLE t(x);
PRAGMA journal_mode = "DELETE";
PRAGMA journal_mode('d');
PRAGMA "journal_mode"=delete;
pragma JOURNAL_MODE = Delete;
PRAGMA /* a comment */ journal_mode = /* another */ truncate;
PRAGMA main."journal_mode"='p';
PRAGMA journal_mode=-1;
PRAGMA journal_mode=NULL;
PRAGMA journal_mode=ON;
PRAGMA journal_mode='';
PRAGMA journal_mode=' delete';
PRAGMA journal_mode='delete ';
PRAGMA journal_mode='wAl';
PRAGMA journal_mode='ü';
PRAGMA journal_mode='DELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETEDELETE';
PRAGMA journal_mode=x'64';
PRAGMA journal_mode=1e10;
PRAGMA journal_modes=delete;
PRAGMA journal_mode;
SELECT 'header', hex(substr(readfile('app.db'),19,2));
PRAGMA integrity_check;
