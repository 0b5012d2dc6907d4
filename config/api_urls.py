from django.urls import path

from cases.api import intake_views
from cases.api import views as case_views
from evidence.api import views as evidence_views
from takedowns.api import hashlist_views
from takedowns.api import views as takedown_views

urlpatterns = [
    path("cases/", case_views.CaseListCreateApi.as_view(), name="api-cases"),
    path("cases/<str:pk>/", case_views.CaseDetailApi.as_view(), name="api-case-detail"),
    path("cases/<str:pk>/consent/", case_views.CaseConsentApi.as_view(), name="api-case-consent"),
    path("cases/<str:pk>/takedowns/", takedown_views.CaseTakedownsApi.as_view(), name="api-case-takedowns"),
    path("cases/<str:pk>/evidence/", evidence_views.CaseEvidenceApi.as_view(), name="api-case-evidence"),
    path("evidence/<str:pk>/", evidence_views.EvidenceDetailApi.as_view(), name="api-evidence-detail"),
    path("platforms/", takedown_views.PlatformsApi.as_view(), name="api-platforms"),
    path("takedowns/", takedown_views.TakedownsApi.as_view(), name="api-takedowns"),
    path("takedowns/<str:pk>/", takedown_views.TakedownDetailApi.as_view(), name="api-takedown-detail"),
    path("takedowns/<str:pk>/send/", takedown_views.TakedownSendApi.as_view(), name="api-takedown-send"),
    path("takedowns/<str:pk>/recheck/", takedown_views.TakedownRecheckApi.as_view(), name="api-takedown-recheck"),
    path("cases/<str:pk>/takedowns/send/", takedown_views.CaseTakedownsSendApi.as_view(), name="api-case-takedowns-send"),
    path("match/", takedown_views.MatchApi.as_view(), name="api-match"),
    path("compliance/platforms/", takedown_views.CompliancePlatformsApi.as_view(), name="api-compliance-platforms"),
    path("intake/", intake_views.IntakeApi.as_view(), name="api-intake"),
    path("intake/status/", intake_views.IntakeStatusApi.as_view(), name="api-intake-status"),
    path("intake/status/messages/", intake_views.IntakeStatusMessageApi.as_view(), name="api-intake-status-messages"),
    path("intake/reports/", intake_views.IntakeReportsApi.as_view(), name="api-intake-reports"),
    path("intake/reports/<str:pk>/", intake_views.IntakeReportDetailApi.as_view(), name="api-intake-report"),
    path("intake/reports/<str:pk>/messages/", intake_views.IntakeReportMessageApi.as_view(), name="api-intake-report-messages"),
    path("intake/reports/<str:pk>/case/", intake_views.IntakeReportCaseApi.as_view(), name="api-intake-report-case"),
    path("intake/reports/<str:pk>/route/", intake_views.IntakeReportRouteApi.as_view(), name="api-intake-report-route"),
    # Partner hash sharing: the only endpoints a partner token opens (core.api.permissions.PartnerScope).
    path("hashlist/", hashlist_views.HashListApi.as_view(), name="api-hashlist"),
    path("hashlist/lookup/", hashlist_views.HashListLookupApi.as_view(), name="api-hashlist-lookup"),
    path("hashlist/<str:pk>/feedback/", hashlist_views.HashListFeedbackApi.as_view(), name="api-hashlist-feedback"),
]
