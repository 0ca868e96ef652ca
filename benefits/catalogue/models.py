"""The benefit catalogue (what each tier gives) and the reward shop (what points buy)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from benefits.coupons.models import Coupon, CouponTemplate, Occasion
from core import text
from core.fields import CategoryListField
from core.placeholders import PlaceholderValidator

# === The benefit catalogue and the reward shop ============================
# The level discount and the fast-refund limit live on `loyalty.Tier` (their single source of
# truth: the checkout and the tier ladder read them there); a `TierBenefit` cell holds whether
# a tier has any other benefit, with its parameters (hours of early access, a note).


BENEFIT_PLACEHOLDERS = ("currency", "hours", "limit", "percent")  # BenefitLine.applies


class Benefit(models.Model):
    """One benefit a tier may give, with the sentence that says where it applies."""

    class Kind(models.TextChoices):
        LEVEL_DISCOUNT = "level_discount", _("Level discount")
        FAST_REFUND = "fast_refund", _("Fast refunds")
        PRIORITY_SERVICE = "priority_service", _("Priority customer service")
        EARLY_ACCESS = "early_access", _("Early access to sales")
        FASTER_SHIPPING = "faster_shipping", _("Faster shipping")
        MEMBER_PRICES = "member_prices", _("Exclusive member prices")
        RECOMMENDATIONS = "recommendations", _("Personalised recommendations")
        EVENT_INVITATIONS = "event_invitations", _("Event invitations")
        EXCLUSIVE_EVENTS = "exclusive_events", _("Exclusive event benefits")
        PRODUCT_PREVIEWS = "product_previews", _("Early product previews")
        VIP_SERVICE = "vip_service", _("VIP customer service")
        PARTNER_EVENTS = "partner_events", _("Partner brands' offline events")
        BIRTHDAY = "birthday", _("Birthday coupon")
        ANNIVERSARY = "anniversary", _("Anniversary coupon")
        LEVEL_UP = "level_up", _("Level-up reward")
        DAILY_COUPONS = "daily_coupons", _("Limited daily coupons")
        BRAND_OF_THE_WEEK = "brand_of_the_week", _("Brand of the week")

    # Kinds whose numbers come from the Tier row, not from a matrix cell.
    FROM_TIER: ClassVar[tuple[str, ...]] = (Kind.LEVEL_DISCOUNT, Kind.FAST_REFUND)

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    applies = models.CharField(
        _("where it applies"),
        max_length=255,
        blank=True,
        help_text=_(
            "Shown to members. May use {percent}, {limit}, {currency} and {hours}, e.g. "
            "'{percent}% off products marked Member price at checkout'."
        ),
        validators=[PlaceholderValidator(BENEFIT_PLACEHOLDERS)],
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        ordering: ClassVar[list[str]] = ["position", "pk"]

    def __str__(self) -> str:
        return str(self.name)

    @property
    def from_tier(self) -> bool:
        return self.kind in self.FROM_TIER


class TierBenefit(models.Model):
    """A cell of the tier × benefit matrix: does `tier` give `benefit`, and with what."""

    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.CASCADE, related_name="+", verbose_name=_("tier")
    )
    benefit = models.ForeignKey(
        Benefit, on_delete=models.CASCADE, related_name="cells", verbose_name=_("benefit")
    )
    included = models.BooleanField(_("included"), default=False)
    hours = models.PositiveSmallIntegerField(
        _("hours"), null=True, blank=True, help_text=_("Early access: hours before the public.")
    )
    note = models.CharField(_("note"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("tier benefit")
        verbose_name_plural = _("tier benefits")
        constraints = [
            models.UniqueConstraint(fields=["tier", "benefit"], name="tier_benefit_once"),
        ]

    def __str__(self) -> str:
        return f"{self.tier_id} × {self.benefit_id}"


class Reward(models.Model):
    """Something members buy with points: a coupon from a template, or merchandise in stock."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("Coupon")
        MERCHANDISE = "merchandise", _("Merchandise")

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    points = models.PositiveIntegerField(_("price in points"), validators=[MinValueValidator(1)])
    coupon_template = models.ForeignKey(
        CouponTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        limit_choices_to={"occasion": Occasion.POINTS_EXCHANGE},
        verbose_name=_("coupon template"),
    )
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Empty: unlimited (coupons only).")
    )
    eligible_tiers = models.ManyToManyField(
        "loyalty.Tier",
        blank=True,
        related_name="+",
        verbose_name=_("only tiers"),
        help_text=_("Empty: every tier."),
    )
    categories = CategoryListField(
        _("categories"),
        max_length=255,
        blank=True,
        help_text=_(
            "Comma-separated, as the shop names them (e.g. shoes, bags): members who bought "
            "these see the reward recommended."
        ),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering: ClassVar[list[str]] = ["position", "points", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="coupon", coupon_template__isnull=False)
                    | models.Q(
                        kind="merchandise", coupon_template__isnull=True, stock__isnull=False
                    )
                ),
                name="reward_kind_fields",
                violation_error_message=_(
                    "A coupon reward needs a coupon template; merchandise needs a stock and no "
                    "template."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(stock__isnull=True) | models.Q(stock__gte=0),
                name="reward_stock_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)

    @property
    def category_list(self) -> list[str]:
        return text.category_list(self.categories)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, object] = {}
        if self.kind == self.Kind.COUPON and self.coupon_template_id is None:
            errors["coupon_template"] = _("A coupon reward needs a coupon template.")
        if self.kind == self.Kind.MERCHANDISE:
            if self.coupon_template_id is not None:
                errors["coupon_template"] = _("Merchandise has no coupon template.")
            if self.stock is None:
                errors["stock"] = _("Merchandise needs a stock.")
        if errors:
            raise ValidationError(errors)


class RewardExchange(models.Model):
    """A member exchanged points for a reward: the redemption entry and what they received."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Coupon issued")
        RESERVED = "reserved", _("Item reserved")

    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="exchanges", verbose_name=_("reward")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reward_exchanges",
        verbose_name=_("member"),
    )
    points = models.PositiveIntegerField(_("points"))
    entry = models.OneToOneField(
        "loyalty.PointEntry",
        on_delete=models.PROTECT,
        related_name="reward_exchange",
        verbose_name=_("point entry"),
    )
    coupon = models.OneToOneField(
        Coupon,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reward_exchange",
        verbose_name=_("coupon"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(_("exchanged at"), default=timezone.now)

    class Meta:
        verbose_name = _("reward exchange")
        verbose_name_plural = _("reward exchanges")
        ordering: ClassVar[list[str]] = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.reward_id} for member {self.member_id}"
