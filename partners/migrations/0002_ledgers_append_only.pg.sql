-- The deposit ledger and the audit trail are append-only: a trigger refuses UPDATE and DELETE.
-- A deposit movement that would make the money held negative, or that is in another currency
-- than the provider's earlier entries, is refused (under a lock on the provider's row, so two
-- movements at once are checked one after the other).

CREATE OR REPLACE FUNCTION partners_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER partners_depositentry_append_only
    BEFORE UPDATE OR DELETE ON partners_depositentry
    FOR EACH ROW EXECUTE FUNCTION partners_append_only();
CREATE TRIGGER partners_auditevent_append_only
    BEFORE UPDATE OR DELETE ON partners_auditevent
    FOR EACH ROW EXECUTE FUNCTION partners_append_only();

CREATE OR REPLACE FUNCTION partners_depositentry_held_check() RETURNS trigger AS $$
DECLARE
    held numeric;
BEGIN
    PERFORM 1 FROM partners_provider WHERE id = NEW.provider_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM partners_depositentry
               WHERE provider_id = NEW.provider_id AND currency <> NEW.currency) THEN
        RAISE EXCEPTION 'partners_depositentry: one currency per provider (% refused)', NEW.currency
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT COALESCE(SUM(CASE kind WHEN 'received' THEN amount
                                  WHEN 'required' THEN 0
                                  ELSE -amount END), 0)
      INTO held FROM partners_depositentry WHERE provider_id = NEW.provider_id;
    held := held + CASE NEW.kind WHEN 'received' THEN NEW.amount
                                 WHEN 'required' THEN 0
                                 ELSE -NEW.amount END;
    IF held < 0 THEN
        RAISE EXCEPTION 'partners_depositentry: the deposit held would be negative (%)', held
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER partners_depositentry_held_check
    BEFORE INSERT ON partners_depositentry
    FOR EACH ROW EXECUTE FUNCTION partners_depositentry_held_check();
