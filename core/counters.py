"""Counters of hits in a fixed window, counted atomically in the shared cache (rate limits).

The window starts at a key's first hit and lasts `window` seconds; every hit in it counts,
whether it was let through or not. With Redis (production, CI) one MULTI pipeline runs
`SET key 0 NX EX window` and `INCR key`, so no two clients read the same count and the window
is set once, by the first hit. With another Django cache, `add` then `incr` (atomic in the
local-memory cache the tests use; the file cache of `make run` without Redis is one process's
best effort)."""

from __future__ import annotations

import re

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "20/min" -> (20, 60): how many hits, in how many seconds."""
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"not a rate: {rate!r} (e.g. '20/min')")
    return int(match[1]), _SECONDS[match[2][0]]


def counter_hit(key: str, *, window: int) -> int:
    """Count one hit on `key`; the number of hits in the key's current window, this one
    included."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)  # type: ignore[attr-defined]
        with client.pipeline(transaction=True) as pipe:
            pipe.set(full_key, 0, nx=True, ex=window)
            pipe.incr(full_key)
            _created, count = pipe.execute()
        return int(count)
    backend.add(key, 0, window)
    try:
        return int(backend.incr(key))
    except ValueError:  # expired between add and incr: this hit starts the next window
        backend.add(key, 0, window)
        return int(backend.incr(key))
