DROP FUNCTION IF EXISTS loyalty_earning_write(bigint, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb);
DROP FUNCTION IF EXISTS loyalty_earning_snapshot(bigint, jsonb);
