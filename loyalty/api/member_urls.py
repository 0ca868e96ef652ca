from django.urls import path

from loyalty.api import member_views as views

urlpatterns = [
    path("members/", views.MemberCreateView.as_view(), name="api-member-create"),
    path("members/<str:number>/", views.MemberDetailView.as_view(), name="api-member-detail"),
    path("me/", views.MeView.as_view(), name="api-me"),
]
