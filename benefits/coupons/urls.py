from django.urls import path

from benefits.coupons import views

app_name = "benefits"

urlpatterns = [
    path("", views.wallet, name="wallet"),
    path("claim/<int:template_id>/", views.claim_daily, name="claim-daily"),
]
