CREATE INDEX IF NOT EXISTS "loyalty_order_number_0cea738f_like"
    ON "loyalty_order" ("number" varchar_pattern_ops);
