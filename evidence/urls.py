from django.urls import path

from evidence import views

app_name = "evidence"

urlpatterns = [
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/reveal/", views.reveal, name="reveal"),
    path("<int:pk>/hide/", views.hide, name="hide"),
    path("<int:pk>/preview/<str:kind>/", views.preview, name="preview"),
    path("<int:pk>/download/", views.download, name="download"),
    path("case/<int:case_pk>/upload/", views.upload, name="upload"),
    path("case/<int:case_pk>/grant/", views.grant, name="grant"),
    path("case/<int:case_pk>/export/", views.export, name="export"),
    path("case/<int:case_pk>/capture/", views.capture, name="capture"),
]
