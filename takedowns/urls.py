from django.urls import path

from takedowns import hashlist_panels, match_views, views

app_name = "takedowns"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("export.csv", views.export_csv, name="export"),
    path("bulk-action/", views.bulk_action, name="bulk_action"),
    path("manual/", views.manual_queue, name="manual"),
    path("match/", match_views.match_page, name="match"),
    path("match/drafts/", match_views.match_create_drafts, name="match_drafts"),
    path("watchlists/", match_views.watchlist_page, name="watchlists"),
    path("manual/<int:notice_pk>/done/", views.manual_done, name="manual_done"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/recheck/", views.request_recheck, name="recheck"),
    path("<int:pk>/platform/", views.request_set_platform, name="set_platform"),
    path("case/<int:case_pk>/bulk/", views.bulk_create, name="bulk"),
    path("case/<int:case_pk>/approve/", views.approve, name="approve"),
    path("case/<int:case_pk>/approve-all/", views.approve_all, name="approve_all"),
    path("case/<int:case_pk>/bulk/dismiss/", views.bulk_dismiss, name="bulk_dismiss"),
    path("case/<int:case_pk>/statuses/", views.case_statuses, name="statuses"),
    path("hashlist/quarantine/<int:pk>/release/", hashlist_panels.quarantine_release, name="hashlist_release"),
]
