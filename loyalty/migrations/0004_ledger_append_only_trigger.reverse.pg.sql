DROP TRIGGER IF EXISTS loyalty_pointentry_append_only ON loyalty_pointentry;
DROP FUNCTION IF EXISTS loyalty_pointentry_append_only();
