-- env: WALGUARD_POLICY=sometimes
-- An invalid environment value fails the load with a message naming the variable; nothing
-- is guarded.
.open app.db
PRAGMA walguard;
SELECT 'functions', count(*) FROM pragma_function_list WHERE name LIKE 'walguard%';
