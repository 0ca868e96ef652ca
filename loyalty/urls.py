from django.urls import path

from . import views

app_name = "loyalty"

urlpatterns = [
    path("points/", views.points, name="points"),
    path("tier/", views.tier, name="tier"),
]
