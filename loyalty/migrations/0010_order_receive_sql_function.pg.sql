CREATE OR REPLACE FUNCTION loyalty_fmt(tpl text, args jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
-- Python's `template % args` for %(name)s, %(name)d and %%, in one pass (so a value that
-- looks like a placeholder is never expanded again).
DECLARE
    result text := '';
    i integer;
    m text[];
BEGIN
    LOOP
        i := strpos(tpl, '%');
        IF i = 0 THEN
            RETURN result || tpl;
        END IF;
        result := result || left(tpl, i - 1);
        tpl := substr(tpl, i);
        IF left(tpl, 2) = '%%' THEN
            result := result || '%';
            tpl := substr(tpl, 3);
            CONTINUE;
        END IF;
        m := regexp_match(tpl, '^%\((\w+)\)[sd]');
        IF m IS NULL OR NOT args ? m[1] THEN
            RAISE EXCEPTION 'loyalty_fmt: bad template %', tpl;
        END IF;
        result := result || (args ->> m[1]);
        tpl := substr(tpl, length(m[1]) + 5);
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION loyalty_earn_reason(
    texts jsonb, r loyalty_earningrule, granted integer, wanted integer, what text
) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
-- loyalty.earning.earn_reason (and EarningRule.cap_label).
DECLARE
    cap_label text;
BEGIN
    IF granted = wanted THEN
        IF granted = 1 THEN
            RETURN loyalty_fmt(texts ->> 'one_point', jsonb_build_object('what', what));
        END IF;
        RETURN loyalty_fmt(
            texts ->> 'points_for', jsonb_build_object('points', granted, 'what', what)
        );
    END IF;
    cap_label := loyalty_fmt(
        CASE WHEN r.cap_period = 'day' THEN texts ->> 'cap_day' ELSE texts ->> 'cap_month' END,
        jsonb_build_object(
            'subject', CASE WHEN r.cap_group <> '' THEN r.cap_group ELSE lower(r.name) END,
            'cap', r.cap
        )
    );
    IF granted = 0 THEN
        RETURN loyalty_fmt(texts ->> 'capped_zero', jsonb_build_object('cap', cap_label));
    END IF;
    RETURN loyalty_fmt(
        texts ->> 'capped_part',
        jsonb_build_object('points', granted, 'what', what, 'cap', cap_label)
    );
END;
$$;

CREATE OR REPLACE FUNCTION loyalty_cap_room(
    r loyalty_earningrule, member bigint,
    day_start timestamptz, day_end timestamptz, month_start timestamptz, month_end timestamptz
) RETURNS integer LANGUAGE plpgsql STABLE AS $$
-- loyalty.earning._cap_room / cap_used: NULL without a cap. The points the member holds from
-- the rule's cap (its rule, or its cap group) for earnings in the period, NET of their
-- reversals. Exact: the caller holds the account lock.
DECLARE
    earned integer;
    reversed integer;
    lo timestamptz := CASE WHEN r.cap_period = 'day' THEN day_start ELSE month_start END;
    hi timestamptz := CASE WHEN r.cap_period = 'day' THEN day_end ELSE month_end END;
BEGIN
    IF r.cap IS NULL THEN
        RETURN NULL;
    END IF;
    IF r.cap_group <> '' THEN
        SELECT COALESCE(SUM(e.points), 0) INTO earned
        FROM loyalty_pointentry e JOIN loyalty_earningrule o ON o.id = e.rule_id
        WHERE e.member_id = member AND e.kind = 'earn' AND o.cap_group = r.cap_group
          AND e.occurred_at >= lo AND e.occurred_at < hi;
        SELECT COALESCE(SUM(v.points), 0) INTO reversed
        FROM loyalty_pointentry v
        JOIN loyalty_pointentry e ON e.id = v.reverses_id
        JOIN loyalty_earningrule o ON o.id = e.rule_id
        WHERE v.member_id = member AND v.kind = 'reverse' AND e.kind = 'earn'
          AND o.cap_group = r.cap_group AND e.occurred_at >= lo AND e.occurred_at < hi;
    ELSE
        SELECT COALESCE(SUM(e.points), 0) INTO earned
        FROM loyalty_pointentry e
        WHERE e.member_id = member AND e.kind = 'earn' AND e.rule_id = r.id
          AND e.occurred_at >= lo AND e.occurred_at < hi;
        SELECT COALESCE(SUM(v.points), 0) INTO reversed
        FROM loyalty_pointentry v JOIN loyalty_pointentry e ON e.id = v.reverses_id
        WHERE v.member_id = member AND v.kind = 'reverse' AND e.kind = 'earn'
          AND e.rule_id = r.id AND e.occurred_at >= lo AND e.occurred_at < hi;
    END IF;
    RETURN GREATEST(r.cap - (earned + reversed), 0);
END;
$$;

CREATE OR REPLACE FUNCTION loyalty_credit_earn(
    p_member bigint, p_balance integer, p_points integer, p_occurred_at timestamptz,
    p_reason text, p_api_key_id bigint, p_event bigint, p_rule bigint, p_campaign bigint,
    p_order bigint, p_expires_on date
) RETURNS void LANGUAGE plpgsql AS $$
-- loyalty.services._credit of an earning (the caller holds the lock and keeps the balance):
-- the entry, and for positive points a lot that repays the debt (-p_balance) first.
DECLARE
    v_entry bigint;
    v_lot bigint;
    v_repay integer;
BEGIN
    INSERT INTO loyalty_pointentry
        (member_id, kind, points, occurred_at, qualifying_at, created_at, reason,
         api_key_id, event_id, rule_id, campaign_id, order_id)
    VALUES (p_member, 'earn', p_points, p_occurred_at, p_occurred_at, now(), p_reason,
            p_api_key_id, p_event, p_rule, p_campaign, p_order)
    RETURNING id INTO v_entry;
    IF p_points > 0 THEN
        v_repay := LEAST(p_points, GREATEST(-p_balance, 0));
        INSERT INTO loyalty_pointlot (member_id, entry_id, points, remaining, expires_on)
        VALUES (p_member, v_entry, p_points, p_points - v_repay, p_expires_on)
        RETURNING id INTO v_lot;
        IF v_repay > 0 THEN
            INSERT INTO loyalty_lotallocation (lot_id, entry_id, points)
            VALUES (v_lot, v_entry, -v_repay);
        END IF;
    END IF;
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
    p_texts jsonb             -- the translated reason templates
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
BEGIN
    SELECT id INTO v_member FROM members_member WHERE number = p_member_number AND is_active;
    IF v_member IS NULL THEN
        RETURN jsonb_build_object('status', 'member_not_found');
    END IF;
    -- account_lock
    SELECT balance, tier_id INTO v_balance, v_tier
    FROM loyalty_account WHERE member_id = v_member FOR UPDATE;
    IF NOT FOUND THEN
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
    SELECT * INTO r_shop FROM loyalty_earningrule WHERE kind = 'shopping' AND active;
    SELECT * INTO r_bonus FROM loyalty_earningrule WHERE kind = 'category_bonus' AND active;
    v_qualifies := r_shop.id IS NOT NULL
        AND (r_shop.min_amount IS NULL OR p_amount >= r_shop.min_amount);
    IF v_qualifies AND cardinality(v_cats) > 0 AND r_bonus.id IS NOT NULL THEN
        SELECT COALESCE(array_agg(DISTINCT cat.value), '{}') INTO v_prior
        FROM loyalty_order o, jsonb_array_elements_text(o.categories) cat
        WHERE o.member_id = v_member AND o.received_at >= p_day_start
          AND o.received_at < p_day_end AND NOT o.fraud
          AND (r_shop.min_amount IS NULL OR o.amount >= r_shop.min_amount);
    END IF;
    INSERT INTO loyalty_order
        (number, member_id, amount, currency, categories, received_at, returned_amount, fraud)
    VALUES (p_number, v_member, p_amount, p_currency, p_categories, p_occurred_at, 0, false)
    ON CONFLICT (number) DO NOTHING
    RETURNING id INTO v_order;
    IF v_order IS NULL THEN  -- rolls the event back; Python answers order_already_received
        RAISE EXCEPTION 'order_already_received' USING ERRCODE = 'LY409';
    END IF;
    IF r_shop.id IS NOT NULL AND NOT v_qualifies THEN
        v_reason := left(loyalty_fmt(
            p_texts ->> 'below_min',
            jsonb_build_object(
                'number', p_number, 'min', r_shop.min_amount::text, 'currency', p_currency
            )
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
            loyalty_fmt(p_texts ->> 'order_what', jsonb_build_object('number', p_number))
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
                    loyalty_fmt(
                        p_texts ->> 'categories_what',
                        jsonb_build_object(
                            'n', v_after - v_before, 'day', p_day::text, 'number', p_number
                        )
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
                v_reason := left(loyalty_fmt(
                    p_texts ->> 'campaign',
                    jsonb_build_object('points', v_points, 'campaign', c.name, 'order', p_number)
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
