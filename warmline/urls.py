from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from warmline.api import api

admin.site.site_header = "Warmline back office"
admin.site.site_title = "Warmline"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("warmline.feedback.urls")),
    path("", include("warmline.channels.chat.urls")),
    path("hooks/", include("warmline.channels.messaging.urls")),
    path("email/", include("warmline.channels.email.urls")),
    path("insights/", include("warmline.insights.urls")),
    path("care/", include("warmline.proactive.care.urls")),
    path("trends/", include("warmline.proactive.urls")),
    path("actions/", include("warmline.actions.urls")),
    path("", include("warmline.web.urls")),
]
