from django.urls import path

from . import desk, views

app_name = "partners"

urlpatterns = [
    path("", views.home, name="home"),
    path("register/", views.register, name="register"),
    path("company/", views.company, name="company"),
    path("identity/", views.identity, name="identity"),
    path("applications/", views.applications, name="applications"),
    path("applications/<int:pk>/", views.application, name="application"),
    path("apply/operator/", views.apply_operator, name="apply_operator"),
    path("apply/international/", views.apply_international, name="apply_international"),
    path("documents/", views.documents, name="documents"),
    path("documents/<int:pk>/file", views.document_file, name="document_file"),
    path("deposit/", views.deposit, name="deposit"),
    path("trail/", views.trail, name="trail"),
    path("team/", views.team, name="team"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("desk/", desk.queue, name="desk"),
    path("desk/applications/<int:pk>/", desk.application, name="desk_application"),
    path("desk/applications/<int:pk>/decide", desk.decide, name="desk_decide"),
    path("desk/providers/", desk.providers, name="desk_providers"),
    path("desk/providers/<int:pk>/", desk.provider, name="desk_provider"),
]
