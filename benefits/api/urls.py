from django.urls import path

from . import views

urlpatterns = [
    path("coupons/validate/", views.CouponValidateView.as_view(), name="api-coupon-validate"),
    path("coupons/redeem/", views.CouponRedeemView.as_view(), name="api-coupon-redeem"),
    path("coupons/release/", views.CouponReleaseView.as_view(), name="api-coupon-release"),
    path(
        "members/<str:number>/coupons/",
        views.MemberCouponsView.as_view(),
        name="api-member-coupons",
    ),
    path("me/coupons/", views.MyCouponsView.as_view(), name="api-me-coupons"),
]

# --- The benefit catalogue and the reward shop (issue 6, part A) ----------------------------
from . import catalogue_views  # noqa: E402

urlpatterns += [
    path(
        "members/<str:number>/benefits/",
        catalogue_views.MemberBenefitsView.as_view(),
        name="api-member-benefits",
    ),
    path(
        "members/<str:number>/fast-refund/",
        catalogue_views.FastRefundView.as_view(),
        name="api-member-fast-refund",
    ),
    path("me/rewards/", catalogue_views.MyRewardsView.as_view(), name="api-me-rewards"),
    path(
        "me/rewards/<int:reward_id>/exchange/",
        catalogue_views.MyRewardExchangeView.as_view(),
        name="api-me-reward-exchange",
    ),
]
