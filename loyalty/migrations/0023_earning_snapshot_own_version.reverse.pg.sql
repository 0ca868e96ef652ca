-- Back to 0018's loyalty_earning_snapshot (the program-wide version).

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
