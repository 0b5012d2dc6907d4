from django.urls import path

from cases import retention_views, views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_create, name="create"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/edit/", views.case_edit, name="edit"),
    path("<int:pk>/identity/", views.case_identity, name="identity"),
    path("<int:pk>/consent/", views.case_consent, name="consent"),
    path("<int:pk>/notes/", views.case_note, name="note"),
    path("<int:pk>/status/", views.case_status, name="status"),
    path("<int:pk>/assign/", views.case_assign, name="assign"),
    path("<int:pk>/referrals/", views.case_referral, name="referral"),
    path("<int:pk>/referrals/<int:referral_pk>/status/", views.referral_status, name="referral_status"),
    path("<int:pk>/legal-hold/", retention_views.case_legal_hold, name="legal_hold"),
    path("<int:pk>/deletion-request/", retention_views.case_deletion_request, name="deletion_request"),
    path("deletion-requests/", retention_views.deletion_queue, name="deletion_requests"),
    path("retention/", retention_views.retention_overview, name="retention"),
    path("deletion-requests/<int:pk>/decide/", retention_views.deletion_decide, name="deletion_decide"),
]
