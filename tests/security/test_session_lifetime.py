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

Time is moved with time-machine: the clock of the test process goes forward and the web code
(the middleware's stamp, Django's session expiry) sees it, as it would after that many hours.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
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


@pytest.fixture
def clock():
    """The clock of this process (time.time, datetime.now, timezone.now) stopped at now and moved
    by the test: the session's expiry and its sign-in stamp both follow it, as they would in
    production after that many minutes or hours."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def _signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_absolute_lifetime_defaults_to_12_hours() -> None:
    assert settings.SESSION_ABSOLUTE_TIMEOUT == 12 * HOUR


def test_sign_in_stamps_the_time(caseworker, clock) -> None:
    client = _sign_in(caseworker)
    assert float(client.session[SIGNED_IN_AT_KEY]) == time.time()


def test_a_busy_session_ends_12_hours_after_sign_in(caseworker, clock) -> None:
    client = _sign_in(caseworker)
    # A request every 20 minutes, never idle for long: still signed in 11 h 40 min later.
    for _ in range(35):
        clock.shift(20 * 60)
        assert client.get("/cases/").status_code == 200
    # Past 12 hours since sign-in: signed out, although the last request was 20 minutes ago.
    clock.shift(20 * 60 + 1)
    assert _signed_out(client.get("/cases/"))
    # And it stays ended: the session was flushed, not just refused once.
    assert _signed_out(client.get("/cases/"))
    assert "_auth_user_id" not in client.session


def test_the_api_with_a_session_ends_too(caseworker, clock) -> None:
    client = _sign_in(caseworker)
    assert client.get("/api/v1/cases/").status_code == 200
    for _ in range(36):
        clock.shift(20 * 60)
        client.get("/cases/")  # kept busy on the pages
    clock.shift(60)
    assert client.get("/api/v1/cases/").status_code in (401, 403)


def test_a_session_without_a_stamp_gets_one_and_ends_in_time(caseworker, clock) -> None:
    """A session signed in before the stamp existed is not let live for ever."""
    client = factories.login_verified(Client(), caseworker)
    assert SIGNED_IN_AT_KEY not in client.session
    assert client.get("/cases/").status_code == 200
    assert SIGNED_IN_AT_KEY in client.session
    for _ in range(36):
        clock.shift(20 * 60)
        client.get("/cases/")
    clock.shift(60)
    assert _signed_out(client.get("/cases/"))


def test_a_session_left_idle_ends_after_the_idle_limit(caseworker, clock) -> None:
    """The idle limit (SESSION_IDLE_TIMEOUT, 30 minutes by default) counts from the last request,
    well inside the absolute lifetime."""
    idle = settings.SESSION_COOKIE_AGE
    assert idle <= 30 * 60
    client = _sign_in(caseworker)
    clock.shift(idle - 60)
    assert client.get("/cases/").status_code == 200  # a minute to spare, and the request resets it
    clock.shift(idle - 60)
    assert client.get("/cases/").status_code == 200  # counted from the last request, not sign-in
    clock.shift(idle + 1)
    assert _signed_out(client.get("/cases/"))
    assert SIGNED_IN_AT_KEY not in client.session  # the stamp went with the session
    assert not Session.objects.filter(expire_date__gt=timezone.now()).exists()


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
