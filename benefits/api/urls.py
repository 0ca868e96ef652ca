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
