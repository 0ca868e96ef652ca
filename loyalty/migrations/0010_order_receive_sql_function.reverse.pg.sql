DROP FUNCTION IF EXISTS loyalty_order_receive(
    bigint, text, text, timestamptz, text, numeric, text, jsonb, text, date,
    timestamptz, timestamptz, timestamptz, timestamptz, date, jsonb
);
DROP FUNCTION IF EXISTS loyalty_credit_earn(
    bigint, integer, integer, timestamptz, text, bigint, bigint, bigint, bigint, bigint, date
);
DROP FUNCTION IF EXISTS loyalty_cap_room(
    loyalty_earningrule, bigint, timestamptz, timestamptz, timestamptz, timestamptz
);
DROP FUNCTION IF EXISTS loyalty_earn_reason(jsonb, loyalty_earningrule, integer, integer, text);
DROP FUNCTION IF EXISTS loyalty_fmt(text, jsonb);
