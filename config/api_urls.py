from django.urls import path

from cases.api import views as case_views
from evidence.api import views as evidence_views

urlpatterns = [
    path("cases/", case_views.CaseListCreateApi.as_view(), name="api-cases"),
    path("cases/<str:pk>/", case_views.CaseDetailApi.as_view(), name="api-case-detail"),
    path("cases/<str:pk>/consent/", case_views.CaseConsentApi.as_view(), name="api-case-consent"),
    path("cases/<str:pk>/evidence/", evidence_views.CaseEvidenceApi.as_view(), name="api-case-evidence"),
    path("evidence/<str:pk>/", evidence_views.EvidenceDetailApi.as_view(), name="api-evidence-detail"),
]
