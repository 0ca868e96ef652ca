DROP FUNCTION IF EXISTS loyalty_order_receive(
    bigint, text, text, timestamptz, text, numeric, text, jsonb, text, date,
    timestamptz, timestamptz, timestamptz, timestamptz, date, jsonb
);

CREATE OR REPLACE FUNCTION loyalty_cap_room(
    r loyalty_earningrule, member bigint,
    day_start timestamptz, day_end timestamptz, month_start timestamptz, month_end timestamptz
) RETURNS integer LANGUAGE plpgsql STABLE AS $$
-- loyalty.earning._cap_room / cap_used: NULL without a cap. The points the member holds from
-- the rule's cap (its rule, or its cap group) for earnings in the period, NET of their
-- reversals. One statement, driven by the member's earnings in the period (the member's
-- index), each joined to its reversals (the reverses index). Exact: the caller holds the
-- account lock.
DECLARE
    used integer;
    lo timestamptz := CASE WHEN r.cap_period = 'day' THEN day_start ELSE month_start END;
    hi timestamptz := CASE WHEN r.cap_period = 'day' THEN day_end ELSE month_end END;
BEGIN
    IF r.cap IS NULL THEN
        RETURN NULL;
    END IF;
    IF r.cap_group <> '' THEN
        SELECT COALESCE(SUM(e.points + COALESCE(rv.points, 0)), 0) INTO used
        FROM loyalty_pointentry e
        JOIN loyalty_earningrule o ON o.id = e.rule_id
        LEFT JOIN LATERAL (
            SELECT SUM(v.points) AS points FROM loyalty_pointentry v
            WHERE v.reverses_id = e.id AND v.kind = 'reverse'
        ) rv ON true
        WHERE e.member_id = member AND e.kind = 'earn' AND o.cap_group = r.cap_group
          AND e.occurred_at >= lo AND e.occurred_at < hi;
    ELSE
        SELECT COALESCE(SUM(e.points + COALESCE(rv.points, 0)), 0) INTO used
        FROM loyalty_pointentry e
        LEFT JOIN LATERAL (
            SELECT SUM(v.points) AS points FROM loyalty_pointentry v
            WHERE v.reverses_id = e.id AND v.kind = 'reverse'
        ) rv ON true
        WHERE e.member_id = member AND e.kind = 'earn' AND e.rule_id = r.id
          AND e.occurred_at >= lo AND e.occurred_at < hi;
    END IF;
    RETURN GREATEST(r.cap - used, 0);
END;
$$;

CREATE OR REPLACE FUNCTION loyalty_earn_reason(
    texts jsonb, r loyalty_earningrule, granted integer, wanted integer, what text
) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
-- loyalty.earning.earn_reason (and EarningRule.cap_label). The templates are positional
-- (receive_sql.TEXT_ARGS gives each one's argument order): format() formats them.
DECLARE
    cap_label text;
BEGIN
    IF granted = wanted THEN
        IF granted = 1 THEN
            RETURN format(texts ->> 'one_point', what);
        END IF;
        RETURN format(texts ->> 'points_for', granted, what);
    END IF;
    cap_label := format(
        CASE WHEN r.cap_period = 'day' THEN texts ->> 'cap_day' ELSE texts ->> 'cap_month' END,
        CASE WHEN r.cap_group <> '' THEN r.cap_group ELSE lower(r.name) END,
        r.cap
    );
    IF granted = 0 THEN
        RETURN format(texts ->> 'capped_zero', cap_label);
    END IF;
    RETURN format(texts ->> 'capped_part', granted, what, cap_label);
END;
$$;

CREATE OR REPLACE FUNCTION loyalty_order_receive(
    p_api_key_id bigint,
    p_key text,
    p_member_number text,
    p_occurred_at timestamptz,
    p_number text,
    p_amount numeric,
    p_currency text,
    p_categories jsonb,       -- sorted, distinct, stripped and lower-cased (as order_receive)
    p_digest text,
    p_day date,               -- the program-local day of p_occurred_at
    p_day_start timestamptz,  -- [start, end) of that day and of its month, program-local
    p_day_end timestamptz,
    p_month_start timestamptz,
    p_month_end timestamptz,
    p_expires_on date,        -- lot_expiry(p_day)
    p_texts jsonb,            -- the translated reason templates, positional (format())
    p_program_version bigint  -- NULL, or: the program's page version the caller's settings
                              -- were read under (-1: none); then the key must be active too
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_member bigint;
    v_balance integer;
    v_tier bigint;
    v_tier_known boolean := false;
    v_event bigint;
    v_order bigint;
    v_old record;
    r_shop loyalty_earningrule;
    r_bonus loyalty_earningrule;
    v_cats text[] := ARRAY(SELECT jsonb_array_elements_text(p_categories));
    v_prior text[] := '{}';
    v_qualifies boolean;
    v_room integer;
    v_wanted integer;
    v_points integer;
    v_reason text;
    v_shop_points integer := 0;
    v_before integer;
    v_after integer;
    v_wanted_cats text[];
    c record;
    v_entries jsonb := '[]';
    v_total integer := 0;
    v_answer jsonb;
    v_version bigint;
    v_key_active boolean;
    v_rules loyalty_earningrule[];
BEGIN
    IF p_program_version IS NOT NULL THEN
        -- the caller's memos (loyalty.api.fast): settings still current, key still active
        SELECT COALESCE((SELECT version FROM members_pageversion WHERE scope = 0), -1),
               EXISTS (SELECT FROM members_apikey WHERE id = p_api_key_id AND revoked_at IS NULL)
        INTO v_version, v_key_active;
        IF v_version <> p_program_version THEN
            RETURN jsonb_build_object('status', 'stale');
        END IF;
        IF NOT v_key_active THEN
            RETURN jsonb_build_object('status', 'key_refused');
        END IF;
    END IF;
    -- the member and account_lock, in one statement when the account exists (nearly always)
    SELECT a.member_id, a.balance, a.tier_id INTO v_member, v_balance, v_tier
    FROM members_member m JOIN loyalty_account a ON a.member_id = m.id
    WHERE m.number = p_member_number AND m.is_active
    FOR UPDATE OF a;
    IF NOT FOUND THEN
        SELECT id INTO v_member FROM members_member WHERE number = p_member_number AND is_active;
        IF v_member IS NULL THEN
            RETURN jsonb_build_object('status', 'member_not_found');
        END IF;
        INSERT INTO loyalty_account (member_id, balance, qualifying_points)
        VALUES (v_member, 0, 0) ON CONFLICT DO NOTHING;
        SELECT balance, tier_id INTO v_balance, v_tier
        FROM loyalty_account WHERE member_id = v_member FOR UPDATE;
    END IF;
    -- the event, once per (API key, event id); a twin in flight is waited for
    INSERT INTO loyalty_event (api_key_id, key, type, member_id, body_hash, response, received_at)
    VALUES (p_api_key_id, p_key, 'order.received', v_member, p_digest, '{}', now())
    ON CONFLICT ON CONSTRAINT event_key_per_api_key DO NOTHING
    RETURNING id INTO v_event;
    IF v_event IS NULL THEN
        SELECT body_hash, response INTO v_old
        FROM loyalty_event WHERE api_key_id = p_api_key_id AND key = p_key;
        RETURN jsonb_build_object(
            'status', 'stored', 'body_hash', v_old.body_hash, 'response', v_old.response
        );
    END IF;
    -- order_receive
    -- both rules in one statement (`kind` is unique)
    v_rules := ARRAY[
        (SELECT r FROM loyalty_earningrule r WHERE r.kind = 'shopping' AND r.active),
        (SELECT r FROM loyalty_earningrule r WHERE r.kind = 'category_bonus' AND r.active)
    ];
    r_shop := v_rules[1];
    r_bonus := v_rules[2];
    v_qualifies := r_shop.id IS NOT NULL
        AND (r_shop.min_amount IS NULL OR p_amount >= r_shop.min_amount);
    IF v_qualifies AND cardinality(v_cats) > 0 AND r_bonus.id IS NOT NULL THEN
        SELECT COALESCE(array_agg(DISTINCT cat.value), '{}') INTO v_prior
        FROM loyalty_order o, jsonb_array_elements_text(o.categories) cat
        WHERE o.member_id = v_member AND o.received_at >= p_day_start
          AND o.received_at < p_day_end AND NOT o.fraud
          AND (r_shop.min_amount IS NULL OR o.amount >= r_shop.min_amount);
    END IF;
    -- Every write from here on is the member's: one page-version bump at the end instead of
    -- the member triggers' one per statement (members.page_versions.PG_DEFERRED_SETTING).
    PERFORM set_config('members.pv_deferred', 'on', true);
    INSERT INTO loyalty_order
        (number, member_id, amount, currency, categories, received_at, returned_amount, fraud)
    VALUES (p_number, v_member, p_amount, p_currency, p_categories, p_occurred_at, 0, false)
    ON CONFLICT (number) DO NOTHING
    RETURNING id INTO v_order;
    IF v_order IS NULL THEN  -- rolls the event back; Python answers order_already_received
        RAISE EXCEPTION 'order_already_received' USING ERRCODE = 'LY409';
    END IF;
    IF r_shop.id IS NOT NULL AND NOT v_qualifies THEN
        v_reason := left(format(
            p_texts ->> 'below_min', p_number, r_shop.min_amount::text, p_currency
        ), 255);
        PERFORM loyalty_credit_earn(
            v_member, v_balance, 0, p_occurred_at, v_reason, p_api_key_id, v_event,
            r_shop.id, NULL, v_order, p_expires_on
        );
        v_entries := v_entries || jsonb_build_array(jsonb_build_object(
            'points', 0, 'kind', 'earn', 'reason', v_reason
        ));
    ELSIF r_shop.id IS NOT NULL THEN
        -- the shopping points, cut to the cap
        v_room := loyalty_cap_room(
            r_shop, v_member, p_day_start, p_day_end, p_month_start, p_month_end
        );
        v_points := LEAST(r_shop.points, COALESCE(v_room, r_shop.points));
        v_reason := left(loyalty_earn_reason(
            p_texts, r_shop, v_points, r_shop.points,
            format(p_texts ->> 'order_what', p_number)
        ), 255);
        PERFORM loyalty_credit_earn(
            v_member, v_balance, v_points, p_occurred_at, v_reason, p_api_key_id, v_event,
            r_shop.id, NULL, v_order, p_expires_on
        );
        v_shop_points := v_points;
        v_balance := v_balance + v_points;
        v_total := v_total + v_points;
        v_entries := v_entries || jsonb_build_array(jsonb_build_object(
            'points', v_points, 'kind', 'earn', 'reason', v_reason
        ));
        -- the same-day category bonus
        IF r_bonus.id IS NOT NULL THEN
            v_before := GREATEST(cardinality(v_prior) - 1, 0);
            v_after := GREATEST(
                (SELECT count(DISTINCT x) FROM unnest(v_prior || v_cats) x)::integer - 1, 0
            );
            IF v_after > v_before THEN
                v_wanted := (v_after - v_before) * r_bonus.points;
                v_room := loyalty_cap_room(
                    r_bonus, v_member, p_day_start, p_day_end, p_month_start, p_month_end
                );
                v_points := LEAST(v_wanted, COALESCE(v_room, v_wanted));
                v_reason := left(loyalty_earn_reason(
                    p_texts, r_bonus, v_points, v_wanted,
                    format(
                        p_texts ->> 'categories_what', v_after - v_before, p_day::text, p_number
                    )
                ), 255);
                PERFORM loyalty_credit_earn(
                    v_member, v_balance, v_points, p_occurred_at, v_reason, p_api_key_id,
                    v_event, r_bonus.id, NULL, v_order, p_expires_on
                );
                v_balance := v_balance + v_points;
                v_total := v_total + v_points;
                v_entries := v_entries || jsonb_build_array(jsonb_build_object(
                    'points', v_points, 'kind', 'earn', 'reason', v_reason
                ));
            END IF;
        END IF;
        -- the campaigns (Campaign.Meta.ordering), by tier and category
        IF v_shop_points > 0 THEN
            FOR c IN
                SELECT k.id, k.name, k.multiplier, k.bonus_points, k.categories,
                       ARRAY(SELECT t.tier_id FROM loyalty_campaign_tiers t
                             WHERE t.campaign_id = k.id) AS tiers
                FROM loyalty_campaign k
                WHERE k.active AND k.starts_on <= p_day AND k.ends_on >= p_day
                ORDER BY k.starts_on DESC, k.id
            LOOP
                IF cardinality(c.tiers) > 0 THEN
                    IF NOT v_tier_known THEN
                        IF v_tier IS NULL THEN
                            SELECT id INTO v_tier FROM loyalty_tier WHERE min_points = 0;
                        END IF;
                        v_tier_known := true;
                    END IF;
                    IF v_tier IS NULL OR NOT v_tier = ANY (c.tiers) THEN
                        CONTINUE;
                    END IF;
                END IF;
                v_wanted_cats := ARRAY(
                    SELECT lower(btrim(x, E' \t\n\r\f\v'))
                    FROM unnest(string_to_array(c.categories, ',')) x
                    WHERE btrim(x, E' \t\n\r\f\v') <> ''
                );
                IF cardinality(v_wanted_cats) > 0 AND NOT v_wanted_cats && v_cats THEN
                    CONTINUE;
                END IF;
                IF c.multiplier IS NOT NULL THEN
                    v_points := floor(v_shop_points * (c.multiplier - 1))::integer;
                ELSE
                    v_points := COALESCE(c.bonus_points, 0);
                END IF;
                IF v_points <= 0 THEN
                    CONTINUE;
                END IF;
                v_reason := left(format(
                    p_texts ->> 'campaign', v_points, c.name, p_number
                ), 255);
                PERFORM loyalty_credit_earn(
                    v_member, v_balance, v_points, p_occurred_at, v_reason, p_api_key_id,
                    v_event, NULL, c.id, v_order, p_expires_on
                );
                v_balance := v_balance + v_points;
                v_total := v_total + v_points;
                v_entries := v_entries || jsonb_build_array(jsonb_build_object(
                    'points', v_points, 'kind', 'earn', 'reason', v_reason
                ));
            END LOOP;
        END IF;
    END IF;
    IF v_total <> 0 THEN
        UPDATE loyalty_account SET balance = balance + v_total WHERE member_id = v_member;
    END IF;
    PERFORM set_config('members.pv_deferred', '', true);
    PERFORM members_pageversion_bump(ARRAY[v_member]);
    v_answer := jsonb_build_object(
        'id', p_key, 'type', 'order.received', 'member', p_member_number,
        'points', v_total, 'entries', v_entries, 'balance', v_balance
    );
    UPDATE loyalty_event SET response = v_answer WHERE id = v_event;
    RETURN jsonb_build_object(
        'status', 'created', 'member_id', v_member, 'earned', v_total > 0,
        'answer', v_answer
    );
END;
$$;
