from django.urls import path

from . import views

urlpatterns = [
    path("events/", views.EventView.as_view(), name="api-events"),
    path("events/batch/", views.EventBatchView.as_view(), name="api-events-batch"),
    path(
        "members/<str:number>/redemptions/",
        views.RedemptionView.as_view(),
        name="api-member-redemptions",
    ),
    path(
        "members/<str:number>/points/", views.MemberPointsView.as_view(), name="api-member-points"
    ),
    path("me/points/", views.MyPointsView.as_view(), name="api-me-points"),
    path("tiers/", views.TierListView.as_view(), name="api-tier-list"),
]
