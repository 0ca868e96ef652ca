-- Back to a key to the member (as Django makes it).
ALTER TABLE loyalty_tierchange DROP CONSTRAINT IF EXISTS "tierchange_member_account_fk";
ALTER TABLE loyalty_tierchange ADD CONSTRAINT "loyalty_tierchange_member_id_fk_members_member_id"
    FOREIGN KEY (member_id) REFERENCES members_member (id) DEFERRABLE INITIALLY DEFERRED;
