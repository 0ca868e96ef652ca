-- loyalty_earning_snapshot: what the earning planner (loyalty/earning/planner.py) needs to know
-- about the members of a run of events, read under their account locks, in one round trip.
-- I/O only: which rules and windows to read are the planner's (`planner.reads`), and every rule
-- applied to what is read (caps net of reversals, which orders count, ...) is the planner's too.
--
-- Three steps in separate statements: a VOLATILE function takes a fresh snapshot for each, so
-- the reads of step 3 see whatever a transaction that held one of the locks committed before
-- it let go (one statement would read as of its start, before the wait). Its plans are generic
-- (planned once per session: planning the reads anew on every call cost more than running
-- them).
CREATE OR REPLACE FUNCTION loyalty_earning_snapshot(
    p_api_key bigint,  -- the events' API key (NULL: a visit)
    p jsonb            -- what to read (one JSON value: cheaper to send than many arrays):
    -- numbers: members by number (the shop's events); member_ids: members by id (visits);
    -- keys: event ids; order_numbers; contribution_kinds, contribution_refs: the reviews and
    -- club posts; visit_days: the days of the visits of member_ids; time_zone: the program's
    -- (the days of usage and orders are local); usage_rules: the rules whose earnings count
    -- against a cap in the run; usage_from, usage_to: [from, to) of those earnings (null:
    -- none); orders_from, orders_to: [from, to) of the members' orders (null: none)
) RETURNS jsonb LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p_numbers text[];
    p_member_ids bigint[];
    p_keys text[];
    p_order_numbers text[];
    p_contribution_kinds text[];
    p_contribution_refs text[];
    p_visit_days date[];
    p_time_zone text;
    p_usage_rules bigint[];
    p_usage_from timestamptz;
    p_usage_to timestamptz;
    p_orders_from timestamptz;
    p_orders_to timestamptz;
    v_ids bigint[];
    v_members jsonb;
    v_locked integer;
BEGIN
    SELECT x.numbers, x.member_ids, x.keys, x.order_numbers, x.contribution_kinds,
           x.contribution_refs, x.visit_days, x.time_zone, x.usage_rules, x.usage_from,
           x.usage_to, x.orders_from, x.orders_to
    INTO p_numbers, p_member_ids, p_keys, p_order_numbers, p_contribution_kinds,
         p_contribution_refs, p_visit_days, p_time_zone, p_usage_rules, p_usage_from,
         p_usage_to, p_orders_from, p_orders_to
    FROM jsonb_to_record(p) AS x(
        numbers text[], member_ids bigint[], keys text[], order_numbers text[],
        contribution_kinds text[], contribution_refs text[], visit_days date[], time_zone text,
        usage_rules bigint[], usage_from timestamptz, usage_to timestamptz,
        orders_from timestamptz, orders_to timestamptz
    );
    -- 1. the active members named
    SELECT COALESCE(array_agg(m.id ORDER BY m.id), '{}'),
           COALESCE(jsonb_object_agg(m.number, m.id), '{}')
    INTO v_ids, v_members
    FROM (
        SELECT id, number FROM members_member WHERE number = ANY (p_numbers) AND is_active
        UNION
        SELECT id, number FROM members_member WHERE id = ANY (p_member_ids) AND is_active
    ) m;
    -- 2. their account locks, in member order (as every locker takes them: no deadlock), and an
    -- account for each member who has none yet (made outside member_create: rare)
    PERFORM 1 FROM loyalty_account WHERE member_id = ANY (v_ids) ORDER BY member_id FOR UPDATE;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    IF v_locked < cardinality(v_ids) THEN
        INSERT INTO loyalty_account (member_id, balance, qualifying_points)
        SELECT n.member_id, 0, 0 FROM unnest(v_ids) AS n(member_id)
        WHERE NOT EXISTS (SELECT FROM loyalty_account a WHERE a.member_id = n.member_id)
        ORDER BY n.member_id
        ON CONFLICT (member_id) DO NOTHING;
        PERFORM 1 FROM loyalty_account WHERE member_id = ANY (v_ids) ORDER BY member_id
        FOR UPDATE;
    END IF;
    -- 3. the state, as committed by whoever held a lock before us
    RETURN jsonb_build_object(
        'version', COALESCE((SELECT version FROM members_pageversion WHERE scope = 0), -1),
        'key_active', p_api_key IS NULL OR EXISTS (
            SELECT FROM members_apikey WHERE id = p_api_key AND revoked_at IS NULL
        ),
        'members', v_members,
        'accounts', COALESCE((
            SELECT jsonb_agg(jsonb_build_array(a.member_id, a.balance, a.tier_id))
            FROM loyalty_account a WHERE a.member_id = ANY (v_ids)
        ), '[]'),
        'stored', COALESCE((
            SELECT jsonb_agg(jsonb_build_array(e.key, e.body_hash, e.response))
            FROM loyalty_event e
            WHERE cardinality(p_keys) > 0 AND e.api_key_id = p_api_key AND e.key = ANY (p_keys)
        ), '[]'),
        'orders', COALESCE((
            SELECT jsonb_agg(o.number) FROM loyalty_order o
            WHERE cardinality(p_order_numbers) > 0 AND o.number = ANY (p_order_numbers)
        ), '[]'),
        'contributions', COALESCE((
            -- every taken (kind, id) among the kinds and ids asked (the planner looks up pairs)
            SELECT jsonb_agg(jsonb_build_array(c.kind, c.ref))
            FROM loyalty_contribution c
            WHERE cardinality(p_contribution_refs) > 0
              AND c.kind = ANY (p_contribution_kinds) AND c.ref = ANY (p_contribution_refs)
        ), '[]'),
        'visits', COALESCE((
            -- every recorded (member, day) among the members and days asked (as above)
            SELECT jsonb_agg(jsonb_build_array(v.member_id, v.day))
            FROM loyalty_visit v
            WHERE cardinality(p_visit_days) > 0
              AND v.member_id = ANY (p_member_ids) AND v.day = ANY (p_visit_days)
        ), '[]'),
        -- earnings by member, rule and local day, each with its reversals: driven by the
        -- members' earnings in the window (their history index), so the cost does not grow
        -- with a member's history
        'usage', COALESCE((
            SELECT jsonb_agg(jsonb_build_array(u.member_id, u.rule_id, u.day, u.points, u.reversed))
            FROM (
                SELECT e.member_id, e.rule_id,
                       (e.occurred_at AT TIME ZONE p_time_zone)::date AS day,
                       SUM(e.points) AS points, COALESCE(SUM(rv.points), 0) AS reversed
                FROM loyalty_pointentry e
                LEFT JOIN LATERAL (
                    SELECT SUM(r.points) AS points FROM loyalty_pointentry r
                    WHERE r.reverses_id = e.id AND r.kind = 'reverse'
                ) rv ON true
                WHERE p_usage_from IS NOT NULL
                  AND e.member_id = ANY (v_ids) AND e.kind = 'earn'
                  AND e.rule_id = ANY (p_usage_rules)
                  AND e.occurred_at >= p_usage_from AND e.occurred_at < p_usage_to
                GROUP BY 1, 2, 3
            ) u
        ), '[]'),
        'day_orders', COALESCE((
            SELECT jsonb_agg(jsonb_build_array(
                o.member_id, (o.received_at AT TIME ZONE p_time_zone)::date, o.amount::text,
                o.categories, o.fraud
            ))
            FROM loyalty_order o
            WHERE p_orders_from IS NOT NULL AND o.member_id = ANY (v_ids)
              AND o.received_at >= p_orders_from AND o.received_at < p_orders_to
        ), '[]')
    );
END;
$$;


-- loyalty_earning_write: the rows of an earning plan (loyalty/earning/planner.py) in one round
-- trip. The rows travel as JSON; events go in by event id and orders by number (concurrent
-- writers meet on the unique indexes in one order); entries and lots take their ids from their
-- sequences in plan order; foreign keys are checked at commit. Mechanical: every value was
-- decided by the planner. Returns the number of rows written to each table, in the order of
-- the statement's parts.
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
    p_members jsonb
) RETURNS integer[] LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_counts integer[];
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
                 (SELECT count(*) FROM balance_rows)]::integer[]
        INTO v_counts;
    PERFORM set_config('members.pv_deferred', '', true);
    PERFORM members_pageversion_bump(
        ARRAY(SELECT jsonb_array_elements_text(p_members))::bigint[]
    );
    RETURN v_counts;
END;
$$;
