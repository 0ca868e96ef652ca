"""The member account: a custom user that logs in by email, and API keys for integrations."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.clock import default_today

from .numbers import new_member_number


class MemberManager(BaseUserManager["Member"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> Member:
        if not email:
            raise ValueError("Members need an email address")
        member = self.model(email=self.normalize_email(email).lower(), **extra)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> Member:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> Member:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class Member(AbstractBaseUser, PermissionsMixin):
    """A registered shopper (or a staff member). Logs in by email; `number` is public."""

    class Language(models.TextChoices):
        ENGLISH = "en", _("English")
        CHINESE = "zh-hans", _("Simplified Chinese")

    email = models.EmailField(_("email address"), max_length=254, unique=True)
    number = models.CharField(
        _("member number"),
        max_length=10,
        unique=True,
        default=new_member_number,
        editable=False,
        help_text=_("Public member number: random digits with a Luhn check digit."),
    )
    name = models.CharField(_("name"), max_length=150, blank=True)
    joined_on = models.DateField(
        _("member since"),
        default=default_today,
        help_text=_("The registration anniversary."),
    )
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    birthday_set_on = models.DateField(
        _("birthday last set on"),
        null=True,
        blank=True,
        help_text=_("A member may change the birthday at most once in 365 days."),
    )
    language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=Language.choices,
        default=Language.ENGLISH,
    )
    marketing_consent = models.BooleanField(_("marketing emails"), default=False)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("registered at"), default=timezone.now)

    objects: ClassVar[MemberManager] = MemberManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="member_email_ci_unique"),
        ]
        indexes = [models.Index(fields=["joined_on"]), models.Index(fields=["birthday"])]

    def __str__(self) -> str:
        return f"{self.email} ({self.number})"

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A key for the shop's own systems. Only a SHA-256 hash of the secret is stored."""

    PREFIX_LENGTH = 8

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    # The cache generation this copy was read under (members.selectors.api_key_for); not a
    # column. None: not read through the cache, or read while a revocation was in flight.
    cache_generation: str | None = None

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new key as (prefix, full key, hash). The key is `mc_<prefix>.<secret>`."""
        prefix = secrets.token_hex(ApiKey.PREFIX_LENGTH // 2)
        secret = secrets.token_urlsafe(32)
        full = f"mc_{prefix}.{secret}"
        return prefix, full, ApiKey.hash_secret(full)


def birthday_change_allowed(member: Member, today: date) -> bool:
    if member.birthday is None or member.birthday_set_on is None:
        return True
    return (today - member.birthday_set_on).days >= 365
