from django.contrib.auth import views as auth_views
from django.urls import path

from core import views

app_name = "core"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/verify/", views.verify_view, name="verify"),
    path("accounts/enrol/", views.enrol_view, name="enrol"),
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
    path("staff/users/", views.users_view, name="users"),
    path("staff/users/<int:pk>/toggle-active/", views.user_toggle_active_view, name="user_toggle_active"),
    path("staff/users/<int:pk>/reset-two-factor/", views.user_reset_two_factor_view, name="user_reset_two_factor"),
]
