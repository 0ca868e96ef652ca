-- core_outbox_emit: record events of one type (core/outbox.py), in the caller's transaction.
-- The events come as three arrays of one length, in order: each event's member (NULL for
-- none), its subject ids and its data. Two statements: the first takes the members' next
-- sequence numbers (one upsert, rows taken in member order, so two writers cannot deadlock on
-- them; they stay locked until the transaction ends, so a member's numbers follow the order
-- in which their transactions commit); the second writes the events, each member's numbered
-- up to the number just taken, in member and sequence order (one sort), so a member's ids
-- grow with their sequence. An event of a type nobody subscribes to (p_subscribed false) is
-- born handed out. Returns the events' ids. Used by core.outbox (emit, emit_many,
-- emit_query) and by SQL writers that record events in the statement that makes the change
-- (the earning engine's write). Arrays, not one JSON document: a job's thousands of events
-- are not serialised into one value and parsed back.
CREATE OR REPLACE FUNCTION core_outbox_emit(
    p_type text, p_version integer, p_subscribed boolean,
    p_members bigint[], p_subjects jsonb[], p_data jsonb[]
) RETURNS bigint[] LANGUAGE plpgsql VOLATILE SET work_mem = '32MB' AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF coalesce(cardinality(p_data), 0) = 0 THEN
        RETURN '{}'::bigint[];
    END IF;
    INSERT INTO core_outboxsequence (member_id, last)
    SELECT m.member_id, count(*) FROM unnest(p_members) AS m(member_id)
    WHERE m.member_id IS NOT NULL GROUP BY m.member_id ORDER BY m.member_id
    ON CONFLICT (member_id) DO UPDATE SET last = core_outboxsequence.last + EXCLUDED.last;

    WITH src AS (
        SELECT * FROM unnest(p_members, p_subjects, p_data) WITH ORDINALITY
            AS r(member_id, subject, data, ord)
    ), numbered AS (
        SELECT src.ord, src.member_id, src.subject, src.data,
               q.last - count(*) OVER (PARTITION BY src.member_id)
                   + row_number() OVER (PARTITION BY src.member_id ORDER BY src.ord) AS member_seq
        FROM src LEFT JOIN core_outboxsequence q ON q.member_id = src.member_id
    ), inserted AS (
        INSERT INTO core_outboxevent (event_id, type, version, occurred_at, member_id,
                                      member_seq, subject, data, created_at, fanned_out_at)
        SELECT core_outbox_event_id(), p_type, p_version, now(), member_id, member_seq,
               coalesce(subject, '{}'::jsonb), coalesce(data, '{}'::jsonb), now(),
               CASE WHEN p_subscribed THEN NULL ELSE now() END
        FROM numbered ORDER BY member_id, ord
        RETURNING id
    )
    SELECT array_agg(id ORDER BY id) INTO v_ids FROM inserted;
    RETURN v_ids;
END;
$$;
