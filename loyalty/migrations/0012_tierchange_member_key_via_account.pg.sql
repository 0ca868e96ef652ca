-- The tier change's member key references the member's account (see the migration).
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT con.conname FROM pg_constraint con
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        WHERE con.conrelid = 'loyalty_tierchange'::regclass AND con.contype = 'f'
          AND cardinality(con.conkey) = 1 AND a.attname = 'member_id'
    LOOP
        EXECUTE format('ALTER TABLE loyalty_tierchange DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
ALTER TABLE loyalty_tierchange ADD CONSTRAINT "tierchange_member_account_fk"
    FOREIGN KEY (member_id) REFERENCES loyalty_account (member_id) DEFERRABLE INITIALLY DEFERRED;
