"""Two-step sign-in state kept in the session between the password and the code.

The user is not logged in (request.user stays anonymous) until the second factor succeeds, so a
page that forgot a check still cannot be reached with a password alone.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import User

PENDING_KEY = "pending_user_id"
PENDING_AT_KEY = "pending_at"
# When the person signed in (both factors): the absolute session lifetime counts from here
# (core.middleware.SessionLifetimeMiddleware).
SIGNED_IN_AT_KEY = "signed_in_at"
# When a step-up code was last entered. Only step_up() stamps it: the code typed at sign-in
# does not open high-value actions, so a session taken over minutes after sign-in still has to
# produce a fresh code from the authenticator.
STEP_UP_AT_KEY = "step_up_at"
# The password step is good for this long; after that the person starts again.
PENDING_SECONDS = 5 * 60


def begin(request: HttpRequest, user: User) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = user.pk
    request.session[PENDING_AT_KEY] = time.time()


def pending_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(PENDING_KEY)
    started = request.session.get(PENDING_AT_KEY, 0)
    if not user_id or time.time() - float(started) > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=user_id, is_active=True, is_service_account=False).first()


def clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)
    request.session.pop(PENDING_AT_KEY, None)


def complete(request: HttpRequest, user: User, device: TOTPDevice) -> None:
    """Logs the user in (rotating the session) and marks it verified by this device."""
    clear(request)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    request.session[SIGNED_IN_AT_KEY] = time.time()


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def recently_verified(request: HttpRequest) -> bool:
    """For step-up checks: was a step-up code (never the sign-in code) entered within
    OTP_RECENT_SECONDS?"""
    at = request.session.get(STEP_UP_AT_KEY, 0)
    return time.time() - float(at) <= settings.OTP_RECENT_SECONDS


def step_up(request: HttpRequest, user: User, code: str) -> bool:
    """A fresh code for a high-value action (download of an original, export, consent override,
    role change). True when the session is now stepped up: by a step-up code in the last
    OTP_RECENT_SECONDS, or by this code (used once, like any code: django-otp refuses a code
    already used, so the sign-in code cannot be typed again here within its time step)."""
    if recently_verified(request):
        return True
    device = confirmed_device(user)
    if code and device is not None and device.verify_token(code.strip()):
        request.session[STEP_UP_AT_KEY] = time.time()
        return True
    return False


def override_fields(request: HttpRequest, user: User, data: dict[str, Any]) -> dict[str, Any]:
    """A form's consent-override fields as the services take them (override_reason, stepped_up).

    Acting without the victim's consent is a high-value action: it needs a step-up code. The
    code is checked only when a reason was given, so a code typed without one is not used up.
    """
    data = dict(data)
    code = data.pop("override_code", "") or ""
    reason = (data.get("override_reason") or "").strip()
    data["override_reason"] = data.get("override_reason") or ""
    data["stepped_up"] = bool(reason) and step_up(request, user, code)
    return data
