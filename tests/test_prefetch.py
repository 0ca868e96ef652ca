"""config.prefetch: several cache reads of a request in one round trip."""

from __future__ import annotations

from django.core.cache import cache

from config.prefetch import cache_prefetched, cached


def test_prefetched_keys_are_answered_from_one_read_and_others_go_to_the_cache() -> None:
    cache.set("a", 1)
    cache.set("b", 2)
    with cache_prefetched(["a", "missing"]):
        cache.set("a", 10)  # the block answers what it read at its start
        cache.set("b", 20)
        cache.set("missing", 30)
        assert cached("a") == 1
        assert cached("b") == 20  # not prefetched: read from the cache
        assert cached("missing") == 30  # missing when prefetched: read from the cache
    assert cached("a") == 10  # after the block, the cache again
