from django.urls import path

from cases import intake_views

app_name = "intake"

urlpatterns = [
    path("", intake_views.report_form, name="form"),
    path("status/", intake_views.status_page, name="status"),
    path("status/<str:action>/", intake_views.status_action, name="status_action"),
]

staff_urlpatterns = [
    path("", intake_views.triage_list, name="triage_list"),
    path("<int:pk>/", intake_views.triage_detail, name="triage_detail"),
]
