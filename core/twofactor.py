"""Two-step sign-in state kept in the session between the password and the code.

The user is not logged in (request.user stays anonymous) until the second factor succeeds, so a
page that forgot a check still cannot be reached with a password alone.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import User

PENDING_KEY = "pending_user_id"
PENDING_AT_KEY = "pending_at"
VERIFIED_AT_KEY = "otp_verified_at"
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
    request.session[VERIFIED_AT_KEY] = time.time()


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def recently_verified(request: HttpRequest) -> bool:
    """For step-up checks: was a code entered within OTP_RECENT_SECONDS?"""
    at = request.session.get(VERIFIED_AT_KEY, 0)
    return time.time() - float(at) <= settings.OTP_RECENT_SECONDS


def step_up(request: HttpRequest, user: User, code: str) -> bool:
    """A fresh code for a sensitive action (downloads, exports). True when the session is now
    recently verified: already, or by this code (used once, like any code)."""
    if recently_verified(request):
        return True
    device = confirmed_device(user)
    if code and device is not None and device.verify_token(code.strip()):
        request.session[VERIFIED_AT_KEY] = time.time()
        return True
    return False
