"""Threat: a session that never ends, and session cookies another site can plant or read.

Before: a session ended only after SESSION_IDLE_TIMEOUT without a request, so a stolen cookie
kept busy (or a page that polls, left open on a shared computer) stayed signed in for ever; the
cookies had their ordinary names, so a sibling subdomain or a plain-HTTP response could set a
session or CSRF cookie for the site (session fixation, CSRF token planting).

Control: core.twofactor.complete stamps the sign-in time in the session, and
core.middleware.SessionLifetimeMiddleware signs the person out SESSION_ABSOLUTE_TIMEOUT
(default 12 hours) after it, however active the session was; the idle limit stays. In
production (config/settings/production.py) the cookies are named `__Host-sessionid` and
`__Host-csrftoken`, which browsers accept only with Secure, Path=/ and no Domain.

Time is moved by rewriting the stored session (its sign-in stamp, its expiry), as the clock
would after that many hours.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from core.twofactor import SIGNED_IN_AT_KEY
from tests import factories
from tests.factories import PRODUCTION_ENV

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600


def _sign_in(user: factories.User) -> Client:
    """Password, then the authenticator code, as a person signs in."""
    device = factories.make_device(user)
    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": factories.PASSWORD})
    response = client.post("/accounts/verify/", {"code": factories.totp_code(device)})
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    return client


def _move_sign_in_back(client: Client, seconds: float) -> None:
    session = client.session
    session[SIGNED_IN_AT_KEY] = float(session[SIGNED_IN_AT_KEY]) - seconds
    session.save()


def test_the_absolute_lifetime_defaults_to_12_hours() -> None:
    assert settings.SESSION_ABSOLUTE_TIMEOUT == 12 * HOUR


def test_sign_in_stamps_the_time(caseworker) -> None:
    client = _sign_in(caseworker)
    assert abs(float(client.session[SIGNED_IN_AT_KEY]) - time.time()) < 60


def test_a_busy_session_ends_12_hours_after_sign_in(caseworker) -> None:
    client = _sign_in(caseworker)
    # 11 hours in, with a request every few minutes: still signed in.
    _move_sign_in_back(client, 11 * HOUR)
    assert client.get("/cases/").status_code == 200
    # Past 12 hours: signed out, although the last request was a moment ago.
    _move_sign_in_back(client, 1 * HOUR + 60)
    response = client.get("/cases/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    # And it stays ended: the session was flushed, not just refused once.
    assert client.get("/cases/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_api_with_a_session_ends_too(caseworker) -> None:
    client = _sign_in(caseworker)
    assert client.get("/api/v1/cases/").status_code == 200
    _move_sign_in_back(client, 12 * HOUR + 60)
    assert client.get("/api/v1/cases/").status_code in (401, 403)


def test_a_session_without_a_stamp_gets_one_and_ends_in_time(caseworker) -> None:
    """A session signed in before the stamp existed is not let live for ever."""
    client = factories.login_verified(Client(), caseworker)
    assert SIGNED_IN_AT_KEY not in client.session
    assert client.get("/cases/").status_code == 200
    assert SIGNED_IN_AT_KEY in client.session
    _move_sign_in_back(client, 12 * HOUR + 60)
    assert client.get("/cases/").status_code == 302


def test_the_idle_limit_still_holds(caseworker) -> None:
    """Idle past SESSION_COOKIE_AGE (the stored session's expiry moved into the past), well
    inside the absolute lifetime: signed out, and the sign-in stamp went with the session."""
    client = _sign_in(caseworker)
    assert SIGNED_IN_AT_KEY in client.session
    Session.objects.filter(session_key=client.session.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/cases/").status_code == 302


def _production_settings(**extra: str) -> dict[str, object]:
    env = {**PRODUCTION_ENV, **extra}
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['SESSION_COOKIE_NAME', 'CSRF_COOKIE_NAME', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SESSION_COOKIE_PATH', 'CSRF_COOKIE_PATH', 'SESSION_COOKIE_DOMAIN', 'CSRF_COOKIE_DOMAIN', "
        "'SESSION_ABSOLUTE_TIMEOUT']}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_production_cookies_carry_the_host_prefix() -> None:
    values = _production_settings()
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    # What browsers require of a __Host- cookie, or they drop it.
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_PATH"] == "/" and values["CSRF_COOKIE_PATH"] == "/"
    assert values["SESSION_COOKIE_DOMAIN"] is None and values["CSRF_COOKIE_DOMAIN"] is None
    assert values["SESSION_ABSOLUTE_TIMEOUT"] == 12 * HOUR
    # Browsers drop a __Host- cookie without Secure, so the plain-HTTP acceptance mode
    # (SECURE_SSL_REDIRECT=false) keeps the ordinary names, or nobody could sign in.
    plain = _production_settings(SECURE_SSL_REDIRECT="false")
    assert plain["SESSION_COOKIE_NAME"] == "sessionid" and plain["CSRF_COOKIE_NAME"] == "csrftoken"


def test_absolute_lifetime_is_configurable() -> None:
    assert _production_settings(SESSION_ABSOLUTE_TIMEOUT="3600")["SESSION_ABSOLUTE_TIMEOUT"] == 3600
