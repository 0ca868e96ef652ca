DROP TRIGGER IF EXISTS partners_depositentry_held_check ON partners_depositentry;
DROP FUNCTION IF EXISTS partners_depositentry_held_check();
DROP TRIGGER IF EXISTS partners_auditevent_append_only ON partners_auditevent;
DROP TRIGGER IF EXISTS partners_depositentry_append_only ON partners_depositentry;
DROP FUNCTION IF EXISTS partners_append_only();
