-- Event ids that grow with time (the layout of UUID version 7: 48 bits of Unix milliseconds,
-- then random bits): a job that records thousands of events appends to the unique index's
-- last pages instead of writing a random page (and its full-page image in the WAL) per row.
CREATE OR REPLACE FUNCTION core_outbox_event_id() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(
            set_bit(
                overlay(uuid_send(gen_random_uuid())
                        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                        FROM 1 FOR 6),
                52, 1),
            53, 1),
        'hex')::uuid
$$;
