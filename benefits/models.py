"""The benefits app's models, each defined in its package; Django finds them through this module
(and the migrations name some of them here)."""

from benefits.catalogue.models import (  # noqa: F401
    BENEFIT_PLACEHOLDERS,
    Benefit,
    Reward,
    RewardExchange,
    TierBenefit,
)
from benefits.coupons.models import (  # noqa: F401
    CODE_ALPHABET,
    CODE_GROUP,
    CODE_LENGTH,
    Coupon,
    CouponIssueJob,
    CouponQuerySet,
    CouponRedemption,
    CouponTemplate,
    CouponTemplateQuerySet,
    DailyQuotaCounter,
    Occasion,
    new_coupon_code,
    normalize_code,
)
from benefits.engagement.models import (  # noqa: F401
    Brand,
    EventRsvp,
    FeaturedBrand,
    FeaturedBrandDiscount,
    MemberEvent,
    Sale,
    SaleEarlyAccess,
)
