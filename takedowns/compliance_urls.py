from django.urls import path

from takedowns import compliance_views, regulator_report

app_name = "compliance"

urlpatterns = [
    path("", compliance_views.dashboard, name="dashboard"),
    path("requests/", compliance_views.requests_behind, name="requests"),
    path("workload/", compliance_views.workload_page, name="workload"),
    path("platform/<int:platform_pk>/report/", regulator_report.report_html, name="platform_report"),
    path("platform/<int:platform_pk>/report.pdf", regulator_report.report_pdf, name="platform_report_pdf"),
    path("charts/removals-by-week.svg", compliance_views.weekly_svg, name="weekly_svg"),
    path("charts/removals-by-week.csv", compliance_views.weekly_csv, name="weekly_csv"),
]
