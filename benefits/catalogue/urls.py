from django.urls import path

from benefits.catalogue import views

app_name = "catalogue"

urlpatterns = [
    path("benefits/", views.benefits, name="benefits"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/<int:reward_id>/exchange/", views.exchange, name="exchange"),
]
