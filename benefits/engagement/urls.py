from django.urls import path

from benefits.engagement import views as event_views

app_name = "events"

urlpatterns = [
    path("", event_views.event_list, name="list"),
    path("<int:event_id>/rsvp/", event_views.rsvp, name="rsvp"),
    path("<int:event_id>/cancel/", event_views.cancel, name="cancel"),
]
