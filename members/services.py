"""Every write to a member account goes through these functions."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import outbox
from core.clock import program_today
from members.models import ApiKey, Member, birthday_change_allowed
from members.selectors import (
    API_KEY_GENERATION,
    API_KEY_GENERATION_SECONDS,
    API_KEY_HOLD,
    API_KEY_HOLD_SECONDS,
    api_key_cache_put,
    api_key_forget,
    api_key_generation_fresh,
)

logger = logging.getLogger(__name__)

PROFILE_FIELDS = ("name", "birthday", "language", "marketing_consent")


def _validate_birthday(birthday: date | None, today: date) -> None:
    if birthday is None:
        return
    if birthday > today:
        raise ValidationError({"birthday": _("A birthday cannot be in the future.")})
    if birthday.year < today.year - 120:
        raise ValidationError({"birthday": _("Please enter a real birthday.")})


@transaction.atomic
def member_create(
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    birthday: date | None = None,
    joined_on: date | None = None,
    language: str = Member.Language.ENGLISH,
    marketing_consent: bool = False,
) -> Member:
    """Create a member. Raises ValidationError on bad input or an email already taken."""
    today = program_today()
    _validate_birthday(birthday, today)
    if joined_on is not None and joined_on > today:
        raise ValidationError({"joined_on": _("The join date cannot be in the future.")})
    email = Member.objects.normalize_email(email).lower()
    try:
        with transaction.atomic():
            member = Member.objects.create_user(
                email=email,
                password=password,
                name=name,
                birthday=birthday,
                birthday_set_on=today if birthday else None,
                joined_on=joined_on or today,
                language=language,
                marketing_consent=marketing_consent,
            )
    except IntegrityError as exc:
        raise ValidationError({"email": _("A member with this email already exists.")}) from exc
    outbox.emit(
        "member.created",
        {"number": member.number, "language": member.language},
        member_id=member.pk,
        subject={"member": member.number},
    )
    logger.info("member created number=%s", member.number)
    return member


def member_get_or_create(*, email: str, **fields: Any) -> tuple[Member, bool]:
    """The member with this email, or a new one. Safe when two callers race on one email."""
    normalized = Member.objects.normalize_email(email).lower()
    existing = Member.objects.filter(email=normalized).first()
    if existing is not None:
        return existing, False
    try:
        return member_create(email=normalized, **fields), True
    except ValidationError as exc:
        # Lost a race against another request creating the same email: return theirs.
        existing = Member.objects.filter(email=normalized).first()
        if existing is not None:
            return existing, False
        raise exc


@transaction.atomic
def member_update_profile(*, member: Member, by_staff: bool = False, **changes: Any) -> Member:
    """Update profile fields. A member may change the birthday once in 365 days; staff always."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    locked = Member.objects.select_for_update().get(pk=member.pk)
    today = program_today()
    if "birthday" in changes and changes["birthday"] != locked.birthday:
        new_birthday = changes["birthday"]
        _validate_birthday(new_birthday, today)
        if not by_staff and not birthday_change_allowed(locked, today):
            assert locked.birthday_set_on is not None
            next_change = locked.birthday_set_on.toordinal() + 365
            raise ValidationError(
                {
                    "birthday": _("You can change your birthday once a year; next on %(date)s.")
                    % {"date": date.fromordinal(next_change).isoformat()}
                }
            )
        locked.birthday_set_on = today if new_birthday else None
    changed = sorted(f for f, value in changes.items() if getattr(locked, f) != value)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean(exclude=["password"])
    locked.save()
    if changed:
        # The names of the fields that changed, and the new values of those that are not
        # personal data (a subscriber that needs the rest reads the member).
        outbox.emit(
            "member.updated",
            {
                "changed": changed,
                "language": locked.language,
                "marketing_consent": locked.marketing_consent,
                "by_staff": by_staff,
            },
            member_id=locked.pk,
            subject={"member": locked.number},
        )
    return locked


def profile_completeness(member: Member, *, email_verified: bool) -> int:
    """Percent of the profile a member has filled in."""
    checks = [bool(member.name), member.birthday is not None, email_verified]
    return round(100 * sum(checks) / len(checks))


def api_key_touch(*, key: ApiKey, now: datetime) -> bool:
    """Record that the key was used (the caller throttles: at most once a minute per key)
    and keep the cached copy's `last_used_at` in step, so the throttle holds. False: the key
    was revoked meanwhile (nothing written; the process's memo forgets it). The copy goes back
    under the generation it was read under, so after a revocation it is never used."""
    if not ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(last_used_at=now):
        api_key_forget(key.prefix)
        return False
    key.last_used_at = now
    api_key_cache_put(key)
    return True


@transaction.atomic
def api_key_create(*, name: str, created_by: Member | None = None) -> tuple[ApiKey, str]:
    """Create an API key; the full key is returned once and never stored."""
    prefix, full, key_hash = ApiKey.generate()
    key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=key_hash, created_by=created_by)
    logger.info("api key created name=%s prefix=%s", name, prefix)
    return key, full


def api_key_revoke(*, key: ApiKey) -> None:
    """Revoke the key: refused by every request that starts after the commit, on every path.

    The key's cache generation is put on hold first (no cached copy is used or written while
    it is, for at most API_KEY_HOLD_SECONDS) and replaced by a fresh one after the commit, so a
    copy cached by a request in flight, under the old generation, is never used again."""
    generation_key = API_KEY_GENERATION.format(prefix=key.prefix)
    cache.set(generation_key, API_KEY_HOLD, API_KEY_HOLD_SECONDS)
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    transaction.on_commit(
        lambda: cache.set(generation_key, api_key_generation_fresh(), API_KEY_GENERATION_SECONDS)
    )
    logger.info("api key revoked prefix=%s", key.prefix)
