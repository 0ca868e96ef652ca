from django.urls import path

from . import catalogue_views, events_views, views

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

# --- Brand of the week and early access ------------------------------------
urlpatterns += [
    path("featured-brand/", events_views.FeaturedBrandView.as_view(), name="api-featured-brand"),
    path(
        "members/<str:number>/early-access/",
        events_views.MemberEarlyAccessView.as_view(),
        name="api-member-early-access",
    ),
]


# --- The benefit catalogue and the reward shop ----------------------------

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
