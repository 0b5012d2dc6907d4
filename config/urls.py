from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

from cases.intake_urls import staff_urlpatterns as intake_staff_urls
from core.health import healthz, readyz
from core.metrics import metrics_view
from takedowns.compliance_views import transparency_page

urlpatterns = [
    path("", include("core.urls")),
    path("cases/", include("cases.urls")),
    path("report/", include(("cases.intake_urls", "intake"))),
    path("intake/", include((intake_staff_urls, "intake_staff"))),
    path("evidence/", include("evidence.urls")),
    path("takedowns/", include("takedowns.urls")),
    path("compliance/", include("takedowns.compliance_urls")),
    path("transparency/", transparency_page, name="transparency"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("i18n/catalog.js", JavaScriptCatalog.as_view(), name="js-catalog"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]
