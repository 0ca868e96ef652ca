from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import health
from config.api_docs import ApiDocsView
from portal import views as member_views

# The admin's login goes through allauth: the same rate limits and MFA as the member center.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "Member Center administration"
admin.site.site_title = "Member Center"

api_v1 = [
    path("", include("loyalty.api.member_urls")),
    path("", include("loyalty.api.urls")),
    path("", include("benefits.api.urls")),
    path("", include("webhooks.api.urls")),
]

urlpatterns = [
    path("", member_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("me/", include("loyalty.urls")),
    path("me/coupons/", include("benefits.coupons.urls")),
    path("me/events/", include("benefits.engagement.urls")),
    path("me/", include("benefits.catalogue.urls")),
    path("me/", include("portal.urls")),
    path("partners/webhooks/", include("webhooks.partner_urls")),
    path("partners/", include("partners.urls")),
    path("accounts/", include("allauth.urls")),
    # Every logout link signs out, staff and members alike: allauth's view (GET asks to
    # confirm, POST signs out), not the admin's, which sends a member to its login page.
    path("admin/logout/", account_views.logout, name="admin-logout"),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", member_views.set_language, name="set_language"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "portal.views.bad_request"
handler404 = "portal.views.not_found"
handler500 = "portal.views.server_error"
