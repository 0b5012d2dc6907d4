"""The project's URLs plus the regulator report at the paths it is meant to be wired at."""

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from takedowns import regulator_report

urlpatterns = [
    path("compliance/platform/<int:platform_pk>/report/", regulator_report.report_html, name="platform_report"),
    path("compliance/platform/<int:platform_pk>/report.pdf", regulator_report.report_pdf, name="platform_report_pdf"),
    *project_urlpatterns,
]
