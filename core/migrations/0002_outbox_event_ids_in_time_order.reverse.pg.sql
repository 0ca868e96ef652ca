DROP FUNCTION IF EXISTS core_outbox_event_id();
