from django.urls import path

from cases.api import views as case_views

urlpatterns = [
    path("cases/", case_views.CaseListCreateApi.as_view(), name="api-cases"),
    path("cases/<str:pk>/", case_views.CaseDetailApi.as_view(), name="api-case-detail"),
    path("cases/<str:pk>/consent/", case_views.CaseConsentApi.as_view(), name="api-case-consent"),
]
