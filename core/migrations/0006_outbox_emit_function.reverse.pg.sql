DROP FUNCTION IF EXISTS core_outbox_emit(text, integer, boolean, bigint[], jsonb[], jsonb[]);
