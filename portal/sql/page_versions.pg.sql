-- The page versions' functions and triggers (portal/page_versions.py loads this file; each
-- statement follows a `-- name:` line, and the {placeholders} are filled in from Python: the
-- tables, their columns and the scopes are listed there).
--
-- A version is the clock in microseconds, or one more than the last if the clock is behind
-- ({now}, {next}): never reused, so a database recreated or restored under a live cache
-- cannot meet a value cached under the same numbers for other data.

-- name: functions
-- Bump the versions of these members (`ids`), in id order; a statement over more than
-- {limit} members bumps the program's version once instead (every dashboard key holds it).
CREATE OR REPLACE FUNCTION portal_bump_member_versions(ids bigint[]) RETURNS void AS $$
BEGIN
    IF ids IS NULL THEN
        RETURN;
    END IF;
    IF cardinality(ids) > {limit} THEN
        INSERT INTO members_pageversion (scope, version) VALUES (0, {now})
        ON CONFLICT (scope) DO UPDATE SET version = {next};
        RETURN;
    END IF;
    INSERT INTO members_pageversion (scope, version)
    SELECT scope, {now} FROM unnest(ids) AS scope ORDER BY 1
    ON CONFLICT (scope) DO UPDATE SET version = {next};
END;
$$ LANGUAGE plpgsql;

-- The name the earning engine's write calls (loyalty_earning_write, loyalty migration 0018).
CREATE OR REPLACE FUNCTION members_pageversion_bump(ids bigint[]) RETURNS void AS $$
BEGIN
    PERFORM portal_bump_member_versions(ids);
END;
$$ LANGUAGE plpgsql;

-- Trigger: bump the program-wide version (scope 0).
CREATE OR REPLACE FUNCTION portal_bump_program_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO members_pageversion (scope, version) VALUES (0, {now})
    ON CONFLICT (scope) DO UPDATE SET version = {next};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Trigger: bump the version of the scope named by the trigger's argument (core.cache.Scope).
CREATE OR REPLACE FUNCTION portal_bump_scope_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO members_pageversion (scope, version) VALUES (TG_ARGV[0]::bigint, {now})
    ON CONFLICT (scope) DO UPDATE SET version = {next};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- name: member_function
-- Trigger (one per member column, with static SQL: plans cached per trigger): bump the
-- versions of the distinct members of the statement's rows, at most {more} of them.
CREATE OR REPLACE FUNCTION portal_bump_member_versions_by_{column}() RETURNS trigger AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(m) INTO ids FROM (
            SELECT DISTINCT {column} AS m FROM pv_new WHERE {column} IS NOT NULL LIMIT {more}
        ) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(m) INTO ids FROM (
            SELECT DISTINCT {column} AS m FROM pv_old WHERE {column} IS NOT NULL LIMIT {more}
        ) AS d;
    ELSE
        SELECT array_agg(m) INTO ids FROM (
            SELECT m FROM (
                SELECT {column} AS m FROM pv_new UNION SELECT {column} FROM pv_old
            ) AS c WHERE m IS NOT NULL LIMIT {more}
        ) AS d;
    END IF;
    PERFORM portal_bump_member_versions(ids);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- name: member_trigger
-- A member table: the statement's members, unless the writer bumps them itself
-- ({not_deferred}: portal.page_versions.PG_DEFERRED_SETTING).
CREATE TRIGGER "portal_bump_member_version_on_{event_name}" AFTER {event} ON "{table}"
REFERENCING {transition} FOR EACH STATEMENT WHEN ({not_deferred})
EXECUTE FUNCTION portal_bump_member_versions_by_{column}();

-- name: scope_trigger_on_write
-- A scope's table: an INSERT, DELETE or TRUNCATE, or an UPDATE of the columns it watches.
CREATE TRIGGER "portal_bump_{scope_name}_version_on_write" AFTER INSERT OR DELETE OR TRUNCATE
{update} ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION {function}({argument});

-- name: scope_trigger_on_change
-- A scope's table: an UPDATE that changes one of `{columns}`' values (a row trigger: the
-- admin saves every column), or flips a condition on them ({changed}).
CREATE TRIGGER "portal_bump_{scope_name}_version_on_change" AFTER UPDATE OF {columns}
ON "{table}" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}({argument});

-- name: drop_functions
DROP FUNCTION IF EXISTS members_pageversion_bump(bigint[]);
DROP FUNCTION IF EXISTS portal_bump_member_versions(bigint[]);
DROP FUNCTION IF EXISTS portal_bump_program_version();
DROP FUNCTION IF EXISTS portal_bump_scope_version();
