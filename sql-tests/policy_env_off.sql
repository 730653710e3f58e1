-- env: WALGUARD_POLICY=off
-- "off" is per file only: as a process default it fails the load.
.open app.db
PRAGMA walguard;
