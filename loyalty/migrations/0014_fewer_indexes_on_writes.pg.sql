-- The varchar_pattern_ops copy Django adds beside the order number's unique index: no query
-- matches order numbers by prefix.
DO $$
DECLARE
    i record;
BEGIN
    FOR i IN
        SELECT c.relname FROM pg_index x
        JOIN pg_class c ON c.oid = x.indexrelid
        JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
        WHERE x.indrelid = 'loyalty_order'::regclass AND NOT x.indisunique
          AND x.indnatts = 1 AND a.attname = 'number' AND c.relname LIKE '%\_like'
    LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', i.relname);
    END LOOP;
END $$;
