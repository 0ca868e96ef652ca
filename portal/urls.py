from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("inbox/", views.inbox, name="inbox"),
    path("how-points-work/", views.how_points_work, name="how_points_work"),
    path("inbox/read/", views.inbox_read, name="inbox_read"),
]
