from django.contrib.auth import views as auth_views
from django.urls import path

from core import ops_views, token_views, views

app_name = "core"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/verify/", views.verify_view, name="verify"),
    path("accounts/enrol/", views.enrol_view, name="enrol"),
    # Invitations: the e-mailed link (holding the key), then the password page (holding none).
    path("accounts/invitation/", views.invitation_view, name="invitation"),
    path("accounts/invitation/<str:key>/", views.invitation_open_view, name="invitation_open"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="core/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="core/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("audit/", views.audit_view, name="audit"),
    path("work/", views.my_work_view, name="my_work"),
    path("staff/users/", views.users_view, name="users"),
    path("staff/users/<int:pk>/toggle-active/", views.user_toggle_active_view, name="user_toggle_active"),
    path("staff/users/<int:pk>/reset-two-factor/", views.user_reset_two_factor_view, name="user_reset_two_factor"),
    path("staff/users/<int:pk>/change/", views.user_change_view, name="user_change"),
    path("staff/users/<int:pk>/invitation/resend/", views.user_invitation_resend_view, name="user_invitation_resend"),
    path("staff/users/<int:pk>/invitation/cancel/", views.user_invitation_cancel_view, name="user_invitation_cancel"),
    # Supervisors approve case-role accounts of their centre (core/accounts.py).
    path("staff/approvals/", views.approvals_view, name="approvals"),
    path("staff/approvals/<int:pk>/approve/", views.user_approve_view, name="user_approve"),
    path("staff/tokens/<int:pk>/revoke/", token_views.api_token_revoke_view, name="api_token_revoke"),
    # Failed work for administrators (core/ops.py).
    path("ops/failed/", ops_views.failed_work_view, name="failed_work"),
    path("ops/failed/task/<int:pk>/retry/", ops_views.task_retry_view, name="task_retry"),
    path("ops/failed/task/<int:pk>/dismiss/", ops_views.task_dismiss_view, name="task_dismiss"),
    path("ops/failed/<slug:source>/<int:pk>/retry/", ops_views.stuck_retry_view, name="stuck_retry"),
]
