from django.urls import path

from . import views

urlpatterns = [
    path("tiers/", views.TierListView.as_view(), name="api-tier-list"),
]
