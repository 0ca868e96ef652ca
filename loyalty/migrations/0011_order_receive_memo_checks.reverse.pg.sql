DROP FUNCTION IF EXISTS loyalty_order_receive(
    bigint, text, text, timestamptz, text, numeric, text, jsonb, text, date,
    timestamptz, timestamptz, timestamptz, timestamptz, date, jsonb, bigint
);
