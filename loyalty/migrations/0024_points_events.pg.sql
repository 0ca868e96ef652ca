-- loyalty_points_event_rows: the outbox rows (ord, member_id, subject, data: what
-- core_outbox_emit takes, in `ord` order) of `points.earned` and `points.reversed` events,
-- one per ledger entry, in id order.
-- The one home of these events' payload: the earning engine's write (SQL) and the ledger's
-- postings (Python, core.outbox.emit_query) both record through it.
CREATE OR REPLACE FUNCTION loyalty_points_event_rows(p_entries bigint[])
RETURNS TABLE (ord bigint, member_id bigint, subject jsonb, data jsonb)
LANGUAGE sql STABLE AS $$
    SELECT row_number() OVER (ORDER BY e.id), e.member_id,
           jsonb_strip_nulls(jsonb_build_object(
               'member', m.number, 'entry', e.id, 'order', o.number, 'reverses', e.reverses_id
           )),
           jsonb_build_object(
               'points', e.points,
               'kind', e.kind,
               'reason', e.reason,
               'occurred_at', e.occurred_at,
               'order', o.number,
               'reverses', e.reverses_id,
               'rule', e.rule_id,
               'campaign', e.campaign_id
           )
    FROM loyalty_pointentry e
    JOIN members_member m ON m.id = e.member_id
    LEFT JOIN loyalty_order o ON o.id = e.order_id
    WHERE e.id = ANY (p_entries)
$$;

DROP FUNCTION IF EXISTS loyalty_earning_write(bigint, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb);

-- loyalty_earning_write: the rows of an earning plan (loyalty/earning/planner.py) in one round
-- trip. The rows travel as JSON; events go in by event id and orders by number (concurrent
-- writers meet on the unique indexes in one order); entries and lots take their ids from their
-- sequences in plan order; foreign keys are checked at commit. Mechanical: every value was
-- decided by the planner. Returns the number of rows written to each table, in the order of
-- the statement's parts.
--
-- The earnings with points are recorded as `points.earned` outbox events in the same
-- transaction (core_outbox_emit; the payload is loyalty_points_event_rows'), unless
-- p_earned_type is NULL (the default: a caller of the previous eight parameters, still
-- running while a deploy migrates, writes as before).
--
-- Every row written is one of `p_members`': the member page-version triggers skip the statement
-- (members.pv_deferred, transaction-local, cleared again right after it), and those members'
-- versions are bumped once instead (members.page_versions.PG_DEFERRED_SETTING).
CREATE OR REPLACE FUNCTION loyalty_earning_write(
    p_api_key bigint,
    p_events jsonb,
    p_orders jsonb,
    p_contributions jsonb,
    p_visits jsonb,
    p_entries jsonb,
    p_deltas jsonb,
    p_members jsonb,
    p_earned_type text DEFAULT NULL,
    p_earned_version integer DEFAULT 1,
    p_earned_subscribed boolean DEFAULT false
) RETURNS integer[] LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_counts integer[];
    v_earned bigint[];
BEGIN
    PERFORM set_config('members.pv_deferred', 'on', true);
    WITH ev AS (
        INSERT INTO loyalty_event (api_key_id, key, type, member_id, body_hash, response, received_at)
        SELECT p_api_key, r.key, r.type, r.member_id, r.body_hash, r.response, now()
        FROM jsonb_to_recordset(p_events)
            AS r(key text, type text, member_id bigint, body_hash text, response jsonb)
        ORDER BY r.key
        RETURNING id, key
    ), od AS (
        INSERT INTO loyalty_order
            (number, member_id, amount, currency, categories, received_at, returned_amount, fraud)
        SELECT r.number, r.member_id, r.amount, r.currency, r.categories, r.received_at, 0, false
        FROM jsonb_to_recordset(p_orders) AS r(
            number text, member_id bigint, amount numeric, currency text, categories jsonb,
            received_at timestamptz
        )
        ORDER BY r.number
        RETURNING id, number
    ), co AS (
        INSERT INTO loyalty_contribution (kind, ref, member_id, posted_at)
        SELECT r.kind, r.ref, r.member_id, r.posted_at
        FROM jsonb_to_recordset(p_contributions)
            AS r(kind text, ref text, member_id bigint, posted_at timestamptz)
        ORDER BY r.kind, r.ref
        RETURNING id
    ), vi AS (
        INSERT INTO loyalty_visit (member_id, day)
        SELECT r.member_id, r.day FROM jsonb_to_recordset(p_visits) AS r(member_id bigint, day date)
        ORDER BY r.member_id, r.day
        RETURNING id
    ), en AS MATERIALIZED (
        SELECT r.*, nextval(pg_get_serial_sequence('loyalty_pointentry', 'id')) AS id
        FROM jsonb_to_recordset(p_entries) AS r(
            ord bigint, event_key text, order_number text, member_id bigint, points integer,
            occurred_at timestamptz, reason text, rule_id bigint, campaign_id bigint, repay integer,
            expires_on date
        )
        ORDER BY r.ord
    ), entry_rows AS (
        INSERT INTO loyalty_pointentry
            (id, member_id, kind, points, occurred_at, qualifying_at, created_at, reason,
             api_key_id, event_id, rule_id, campaign_id, order_id)
        SELECT en.id, en.member_id, 'earn', en.points, en.occurred_at, en.occurred_at, now(),
               en.reason, p_api_key, ev.id, en.rule_id, en.campaign_id, od.id
        FROM en
        LEFT JOIN ev ON ev.key = en.event_key
        LEFT JOIN od ON od.number = en.order_number
        ORDER BY en.ord
        RETURNING id
    ), lot AS MATERIALIZED (
        SELECT en.*, nextval(pg_get_serial_sequence('loyalty_pointlot', 'id')) AS lot_id
        FROM en WHERE en.points > 0 ORDER BY en.ord
    ), lot_rows AS (
        INSERT INTO loyalty_pointlot (id, member_id, entry_id, points, remaining, expires_on)
        SELECT lot.lot_id, lot.member_id, lot.id, lot.points, lot.points - lot.repay, lot.expires_on
        FROM lot ORDER BY lot.ord
        RETURNING id
    ), allocation_rows AS (
        INSERT INTO loyalty_lotallocation (lot_id, entry_id, points)
        SELECT lot.lot_id, lot.id, -lot.repay FROM lot WHERE lot.repay > 0 ORDER BY lot.ord
        RETURNING id
    ), balance_rows AS (
        -- the accounts by their key (a join would hash the whole table under a generic plan)
        UPDATE loyalty_account a SET balance = a.balance + (
            SELECT d.delta FROM jsonb_to_recordset(p_deltas) AS d(member_id bigint, delta integer)
            WHERE d.member_id = a.member_id
        )
        WHERE a.member_id = ANY (
            ARRAY(SELECT (d ->> 'member_id')::bigint FROM jsonb_array_elements(p_deltas) d)
        )
        RETURNING a.member_id
    )
    SELECT ARRAY[(SELECT count(*) FROM ev), (SELECT count(*) FROM od), (SELECT count(*) FROM co),
                 (SELECT count(*) FROM vi), (SELECT count(*) FROM entry_rows),
                 (SELECT count(*) FROM lot_rows), (SELECT count(*) FROM allocation_rows),
                 (SELECT count(*) FROM balance_rows)]::integer[],
           ARRAY(SELECT en.id FROM en WHERE en.points > 0 ORDER BY en.id)
        INTO v_counts, v_earned;
    PERFORM set_config('members.pv_deferred', '', true);
    PERFORM members_pageversion_bump(
        ARRAY(SELECT jsonb_array_elements_text(p_members))::bigint[]
    );
    IF p_earned_type IS NOT NULL AND cardinality(v_earned) > 0 THEN
        PERFORM core_outbox_emit(
            p_earned_type, p_earned_version, p_earned_subscribed,
            array_agg(r.member_id ORDER BY r.ord), array_agg(r.subject ORDER BY r.ord),
            array_agg(r.data ORDER BY r.ord)
        ) FROM loyalty_points_event_rows(v_earned) r;
    END IF;
    RETURN v_counts;
END;
$$;
