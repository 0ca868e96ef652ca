from django.urls import path

from . import events_views, views

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

# --- Brand of the week and early access (issue 6, part B) ------------------------------------
urlpatterns += [
    path("featured-brand/", events_views.FeaturedBrandView.as_view(), name="api-featured-brand"),
    path(
        "members/<str:number>/early-access/",
        events_views.MemberEarlyAccessView.as_view(),
        name="api-member-early-access",
    ),
]
