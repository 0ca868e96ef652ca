-- core_outbox_emit: record events of one type (core/outbox.py), in the caller's transaction.
-- p_rows is a JSON array of {ord, member_id, subject, data}; the events are written in `ord`
-- order. Two statements: the first takes the members' next sequence numbers (one upsert, rows
-- taken in member order, so two writers cannot deadlock on them; they stay locked until the
-- transaction ends, so a member's numbers follow the order in which their transactions
-- commit); the second writes the events, each member's numbered up to the number just taken.
-- An event of a type nobody subscribes to (p_subscribed false) is born handed out. Returns
-- the events' ids in order. Used by core.outbox.emit_query and by SQL writers that record
-- events in the statement that makes the change (the earning engine's write).
CREATE OR REPLACE FUNCTION core_outbox_emit(
    p_type text, p_version integer, p_subscribed boolean, p_rows jsonb
) RETURNS bigint[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF p_rows IS NULL OR jsonb_array_length(p_rows) = 0 THEN
        RETURN '{}'::bigint[];
    END IF;
    INSERT INTO core_outboxsequence (member_id, last)
    SELECT r.member_id, count(*) FROM jsonb_to_recordset(p_rows) AS r(member_id bigint)
    WHERE r.member_id IS NOT NULL GROUP BY r.member_id ORDER BY r.member_id
    ON CONFLICT (member_id) DO UPDATE SET last = core_outboxsequence.last + EXCLUDED.last;

    WITH src AS (
        SELECT * FROM jsonb_to_recordset(p_rows)
            AS r(ord bigint, member_id bigint, subject jsonb, data jsonb)
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
        FROM numbered ORDER BY ord
        RETURNING id
    )
    SELECT array_agg(id ORDER BY id) INTO v_ids FROM inserted;
    RETURN v_ids;
END;
$$;
