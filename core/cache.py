"""The one cache rule: a cached read is a value stored under its key and the version it was
built for; invalidation is a new version, never a deleted key.

Versions belong to scopes (`Scope`) and are the database's: triggers bump a scope's counter on
every change of its tables, by any path (services, the admin, bulk writes, raw SQL, psql;
portal.page_versions installs them and registers the reader, `use_version_source`). A read
takes the scope's version from, in order:

- the versions known for the current unit of work (`versions_known`): read by a query that
  reads them anyway (the dashboard's status query; the earning engine's snapshot);
- what this thread last read (one query for every scope), kept `CACHE_VERSION_SECONDS`. A
  statement that writes a watched table drops that knowledge (`watch_writes`, under every
  connection): the writer reads its own write. A write by another thread, another process or
  psql is seen within `CACHE_VERSION_SECONDS`, and at once by a unit of work that read its
  versions from the database. (A write rolled back leaves its thread on the version it made,
  which no committed data will ever have, until the knowledge expires.)

The value lives in the shared cache under `<key>:<version>` (one round trip; an old version is
never asked for again and expires). With `memo=True` it is also kept in this process beside its
version, and the memo answers only for that same version.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")


class Scope(IntEnum):
    """What a version counts the changes of (its row in the database's version table)."""

    PROGRAM_WIDE = 0  # every program-wide table the member center shows (the dashboard's key)
    PROGRAM_SETTINGS = -1  # the program's settings row
    EARNING = -2  # what the earning engine reads: the settings, rules, campaigns, base tier
    LADDER = -3  # the tiers
    SHOWCASE = -4  # what every member's dashboard shows alike: brands, sales, events, rewards


VersionSource = Callable[[], dict[int, int]]

_source: VersionSource | None = None
_scopes_of: dict[str, set[int]] = {}
_watched: re.Pattern[str] | None = None


def use_version_source(source: VersionSource, scopes_of: Mapping[str, set[int]]) -> None:
    """Name the function that reads every scope's version in one query, and the scopes each
    table's writes bump ({table: scopes}): a statement that writes the table drops what this
    thread knows of them."""
    global _source, _scopes_of, _watched
    _source = source
    _scopes_of = {table.lower(): set(scopes) for table, scopes in scopes_of.items()}
    names = "|".join(sorted(re.escape(t) for t in _scopes_of))
    _watched = re.compile(rf"\b(?:{names})\b", re.IGNORECASE) if names else None


# --- Versions ---------------------------------------------------------------------------------
_KNOWN: ContextVar[Mapping[int, int] | None] = ContextVar("cache_versions_known", default=None)

# What this thread last read of the versions, and until when it trusts it.
_seen = threading.local()


@contextmanager
def versions_known(versions: Mapping[int, int]) -> Iterator[None]:
    """Within the block, reads use these versions (read from the database by the caller)."""
    outer = _KNOWN.get()
    token = _KNOWN.set({**(outer or {}), **versions})
    try:
        yield
    finally:
        _KNOWN.reset(token)


def version(scope: int) -> int:
    """The scope's current version (-1 before anything bumped it)."""
    known = _KNOWN.get()
    if known is not None and scope in known:
        return known[scope]
    now = time.monotonic()
    seen: dict[int, int] | None = getattr(_seen, "versions", None)
    if seen is None or now >= _seen.until or scope not in seen:
        seen = {int(s): -1 for s in Scope} | (_source() if _source is not None else {})
        _seen.versions = seen
        _seen.until = now + float(settings.CACHE_VERSION_SECONDS)
    return seen.get(scope, -1)


def versions_forget(scopes: set[int] | None = None) -> None:
    """Drop what this thread knows of the versions of `scopes` (None: all): its next read of
    one of them asks the database."""
    seen: dict[int, int] | None = getattr(_seen, "versions", None)
    if scopes is None or seen is None:
        _seen.versions = None
        return
    _seen.versions = {scope: v for scope, v in seen.items() if scope not in scopes}


_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "WITH", "MERGE")
# The tables a statement writes (a table it only reads, in a subquery, moves no version).
_TARGETS = re.compile(
    r'\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+(?:ONLY\s+)?"?(\w+)"?', re.IGNORECASE
)


def _written(sql: str) -> list[str]:
    if sql.lstrip()[:8].upper().startswith("TRUNCATE"):
        return _watched.findall(sql) if _watched is not None else []
    return [t for t in _TARGETS.findall(sql) if t.lower() in _scopes_of]


def watch_writes(
    execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
) -> Any:
    """A connection's execute wrapper: a statement that writes a watched table drops the
    versions this thread knows (the writer then reads its own write)."""
    result = execute(sql, params, many, context)
    if isinstance(sql, str) and sql.lstrip()[:8].upper().startswith(_WRITES):
        tables = _written(sql)
        if tables:
            versions_forget(set().union(*(_scopes_of[t.lower()] for t in tables)))
    return result


def watch_connection(connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: put `watch_writes` under every statement."""
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, watch_writes)


# --- Values -----------------------------------------------------------------------------------
_memo: dict[str, tuple[int, float, Any]] = {}
_again: ContextVar[bool] = ContextVar("cache_build_again", default=False)


def cached(
    key: str,
    build: Callable[[], T],
    *,
    scope: int,
    seconds: int,
    memo: bool = False,
    shared: bool = True,
    at: int | None = None,
    fresh: Callable[[T], bool] | None = None,
) -> T:
    """The value of `key` for the scope's current version (or version `at`), built by `build`
    when neither the memo (with `memo`) nor the shared cache (with `shared`) holds it for that
    version. `build` must read its data after the version was read (it is: the version is read
    first), so a value is never older than its version. `fresh` can refuse a hit (a value
    that depends on the date). A value lives at most `seconds`."""
    current = version(scope) if at is None else at
    now = time.monotonic()
    if memo:
        hit = _memo.get(key)
        if (
            hit is not None
            and hit[0] == current
            and hit[1] > now
            and (fresh is None or fresh(hit[2]))
        ):
            return hit[2]  # type: ignore[no-any-return]
    full = f"{key}:{current}"
    value = cache.get(full) if shared else None
    if value is None or (fresh is not None and not fresh(value)):
        value = build()
        if at is None and version(scope) != current and not _again.get():
            # The build wrote its own scope (a row made on first use): read it again, once,
            # under the version that write made.
            token = _again.set(True)
            try:
                return cached(key, build, scope=scope, seconds=seconds, memo=memo, shared=shared)
            finally:
                _again.reset(token)
        if shared:
            cache.set(full, value, seconds)
    if memo:
        _memo[key] = (current, now + seconds, value)
    return value


def memoised(key: str) -> tuple[int, Any] | None:
    """(version, value) of the memo of `key`, whatever its version: for a caller that checks
    the version itself before using the value (the earning engine, against its snapshot)."""
    hit = _memo.get(key)
    return (hit[0], hit[2]) if hit is not None else None


def forget() -> None:
    """Drop this process's memo and this thread's versions (tests: each starts with empty caches)."""
    _memo.clear()
    versions_forget()
