from django.urls import path

from takedowns import compliance_views, regulator_report

app_name = "compliance"

urlpatterns = [
    path("", compliance_views.dashboard, name="dashboard"),
    path("requests/", compliance_views.requests_behind, name="requests"),
    path("workload/", compliance_views.workload_page, name="workload"),
    path("platform/<int:platform_pk>/report/", regulator_report.report_html, name="platform_report"),
    path("platform/<int:platform_pk>/report.pdf", regulator_report.report_pdf, name="platform_report_pdf"),
    path("charts/<slug:name>.<slug:ext>", compliance_views.chart_download, name="chart"),
]
