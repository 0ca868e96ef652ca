-- Point entries are append-only: a trigger refuses UPDATE and DELETE.

CREATE OR REPLACE FUNCTION loyalty_pointentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_pointentry is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER loyalty_pointentry_append_only
    BEFORE UPDATE OR DELETE ON loyalty_pointentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_pointentry_append_only();
