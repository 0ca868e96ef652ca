"""Reads shared by the member pages and the API."""

from __future__ import annotations

import hmac
import secrets

from django.core.cache import cache

from members.models import ApiKey, Member


def member_by_number(number: str) -> Member | None:
    return Member.objects.filter(number=number, is_active=True).first()


API_KEY_CACHE = "members:api-key:v2:{prefix}"  # (generation, key) as read under that generation
API_KEY_CACHE_SECONDS = 30
API_KEY_GENERATION = "members:api-key-generation:v1:{prefix}"
API_KEY_GENERATION_SECONDS = 24 * 3600
API_KEY_HOLD = "hold"  # the generation while a revocation is in flight: nothing cached is used
API_KEY_HOLD_SECONDS = 600  # at most this long, should the revoking process die before commit


def api_key_cache_key(full_key: str) -> str | None:
    """The cache key of an `mc_<prefix>.<secret>` key (None: not shaped like one)."""
    if not full_key.startswith("mc_") or "." not in full_key:
        return None
    return API_KEY_CACHE.format(prefix=full_key[3:].split(".", 1)[0])


def api_key_generation_fresh() -> str:
    """A generation never used before (random: a lost or evicted one is never reused)."""
    return secrets.token_hex(16)


def _generation(prefix: str, current: object) -> str | None:
    """The key's current generation (None: on hold, do not use or write the cache). A missing
    one (never set, expired or evicted) is replaced by a fresh one; `add` lets the first
    writer win, so two requests agree on it."""
    if current is None:
        generation_key = API_KEY_GENERATION.format(prefix=prefix)
        cache.add(generation_key, api_key_generation_fresh(), API_KEY_GENERATION_SECONDS)
        current = cache.get(generation_key)
    if not isinstance(current, str) or current == API_KEY_HOLD:
        return None
    return current


_KEYS: dict[str, ApiKey] = {}  # prefix -> key, as this process last read it (see `memoised`)
_KEYS_SIZE = 256


def api_key_for(full_key: str, *, memoised: bool = False) -> ApiKey | None:
    """The active API key matching `mc_<prefix>.<secret>`, or None.

    Active keys are cached by prefix for API_KEY_CACHE_SECONDS, each copy with the generation
    it was read under; the copy and the current generation come in one round trip, and a copy
    of another generation is never used (the database is read instead). `api_key_revoke` puts
    the generation on hold before its write and sets a fresh one after its commit, so a copy
    written by a request still in flight is never used again: a revoked key is refused by
    every request that starts after the revocation committed. The secret is checked against
    the hash on every request. The key's `cache_generation` is the generation it was read
    under (None: read during a hold; `api_key_touch` then does not cache it).

    `memoised`: the key as this process last read it, without the cache round trip. Only for
    callers that check, in the transaction of their writes, that the key is still active (the
    earning engine's snapshot does, and `event_ingest`): a key revoked since is refused there;
    `api_key_touch` refuses and forgets it too."""
    cache_key = api_key_cache_key(full_key)
    if cache_key is None:
        return None
    prefix = full_key[3:].split(".", 1)[0]
    key = _KEYS.get(prefix) if memoised else None
    if key is not None:
        return key if hmac.compare_digest(key.key_hash, ApiKey.hash_secret(full_key)) else None
    generation_key = API_KEY_GENERATION.format(prefix=prefix)
    found = cache.get_many([cache_key, generation_key])
    generation = _generation(prefix, found.get(generation_key))
    cached = found.get(cache_key)
    if generation is not None and isinstance(cached, tuple) and cached[0] == generation:
        key = cached[1]
    else:
        key = ApiKey.objects.active().filter(prefix=prefix).first()
        if key is None:
            return None
        key.cache_generation = generation
        api_key_cache_put(key)
    assert key is not None
    if not hmac.compare_digest(key.key_hash, ApiKey.hash_secret(full_key)):
        return None
    if memoised:
        if len(_KEYS) >= _KEYS_SIZE:
            _KEYS.clear()
        _KEYS[prefix] = key
    return key


def api_key_cache_put(key: ApiKey) -> None:
    """Cache the key under the generation it was read under (never during a hold): written
    late, after a revocation changed the generation, the copy is never used."""
    if key.cache_generation is not None:
        cache.set(
            API_KEY_CACHE.format(prefix=key.prefix),
            (key.cache_generation, key),
            API_KEY_CACHE_SECONDS,
        )


def api_key_forget(prefix: str) -> None:
    """Drop one key from this process's memo."""
    _KEYS.pop(prefix, None)


def api_keys_forget() -> None:
    """Drop this process's memo (tests start each case with empty caches)."""
    _KEYS.clear()
