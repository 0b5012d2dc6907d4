"""Sign-in needs a password and a TOTP code; nothing opens with a password alone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import services
from core.models import AuditEvent, LoginThrottle
from tests import factories

pytestmark = pytest.mark.django_db


def _password_step(client: Client, username: str, password: str = factories.PASSWORD) -> object:
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_full_sign_in_with_password_and_code(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    response = _password_step(client, caseworker.username)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/verify/")
    # Between the two steps the person is not signed in at all.
    assert client.get("/cases/").status_code == 302
    response = client.post("/accounts/verify/", {"code": factories.totp_code(device)})
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor_username=caseworker.username).exists()


def test_session_key_rotates_at_login(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    client.get("/accounts/login/")
    first = client.session.session_key
    _password_step(client, caseworker.username)
    second = client.session.session_key
    client.post("/accounts/verify/", {"code": factories.totp_code(device)})
    third = client.session.session_key
    assert len({first, second, third}) == 3


def test_password_only_session_is_refused_everywhere(caseworker: factories.User) -> None:
    factories.make_device(caseworker)
    case = factories.make_case(caseworker)
    client = Client()
    _password_step(client, caseworker.username)
    for path in ["/work/", "/cases/", f"/cases/{case.pk}/", "/cases/new/", "/audit/", "/staff/users/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path
    for path in ["/api/v1/cases/", f"/api/v1/cases/{case.pk}/"]:
        assert client.get(path).status_code in (401, 403), path
    # Even a session forced in with a password but no device verification gets nowhere.
    forced = Client()
    forced.force_login(caseworker)
    assert forced.get("/cases/").status_code == 302
    assert forced.get("/api/v1/cases/").status_code in (401, 403)


def test_basic_auth_with_password_is_not_accepted(caseworker: factories.User) -> None:
    import base64

    client = Client()
    credentials = base64.b64encode(f"{caseworker.username}:{factories.PASSWORD}".encode()).decode()
    response = client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code in (401, 403)


def test_a_code_works_only_once(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    code = factories.totp_code(device)
    first = Client()
    _password_step(first, caseworker.username)
    assert first.post("/accounts/verify/", {"code": code}).status_code == 302
    second = Client()
    _password_step(second, caseworker.username)
    response = second.post("/accounts/verify/", {"code": code})
    assert response.status_code == 200
    assert "only once" in response.content.decode()
    assert second.get("/cases/").status_code == 302


def test_wrong_code_is_refused(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    _password_step(client, caseworker.username)
    wrong = "000000" if factories.totp_code(device) != "000000" else "111111"
    response = client.post("/accounts/verify/", {"code": wrong})
    assert response.status_code == 200
    assert client.get("/cases/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.code_failed").exists()


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_LOCKOUT_SECONDS=600)
def test_password_lockout_blocks_even_the_right_password_then_expires(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    for _ in range(3):
        response = _password_step(client, caseworker.username, "wrong-password")
        assert response.status_code == 200
    assert AuditEvent.objects.filter(action="auth.locked_out", actor_username=caseworker.username).exists()
    response = _password_step(client, caseworker.username)
    assert response.status_code == 200
    assert "paused" in response.content.decode()
    # The lock always ends: move its end into the past, as time passing would.
    LoginThrottle.objects.filter(username=caseworker.username).update(locked_until=timezone.now() - timedelta(seconds=1))
    response = _password_step(client, caseworker.username)
    assert response.status_code == 302
    client.post("/accounts/verify/", {"code": factories.totp_code(device)})
    assert client.get("/cases/").status_code == 200


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_LOCKOUT_SECONDS=600)
def test_code_failures_lock_out_too(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    good = factories.totp_code(device)
    wrong = "123456" if good != "123456" else "654321"
    _password_step(client, caseworker.username)
    for _ in range(3):
        client.post("/accounts/verify/", {"code": wrong})
        # django-otp's own back-off delays the next try; clear it to reach our lockout quickly.
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert services.throttle_locked_until(caseworker.username) is not None
    fresh = Client()
    response = _password_step(fresh, caseworker.username)
    assert response.status_code == 200
    assert "paused" in response.content.decode()


def test_unknown_usernames_are_throttled_without_revealing_anything(db: None) -> None:
    client = Client()
    response = _password_step(client, "nobody-here", "whatever-password")
    assert response.status_code == 200
    assert "not right" in response.content.decode()
    assert LoginThrottle.objects.filter(username="nobody-here", failures=1).exists()


def test_enrolment_with_qr_code_through_the_invitation_link(
    caseworker: factories.User, django_capture_on_commit_callbacks
) -> None:
    # Enrolment is offered only through a link sent to the person's e-mail (tests/security/
    # test_admin_credentials.py): here the one an administrator's authenticator reset sends.
    with django_capture_on_commit_callbacks(execute=True):
        services.user_reset_two_factor(user=caseworker, acting_user=None)
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+)", mail.outbox[-1].body).group(1)
    client = Client()
    password_page = client.get(link)["Location"]
    new_password = "a-brand-new-long-passphrase-77"
    response = client.post(password_page, {"new_password1": new_password, "new_password2": new_password})
    assert response["Location"].startswith("/accounts/enrol/")
    page = client.get("/accounts/enrol/")
    html = page.content.decode()
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=caseworker)
    assert device.confirmed is False
    # The key shown on the page is the device's key, in base32 groups of four.
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    import base64

    assert base64.b32decode(secret) == device.bin_key
    response = client.post("/accounts/enrol/", {"code": factories.totp_code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/cases/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.two_factor_enrolled", actor_username=caseworker.username).exists()


def test_service_accounts_cannot_sign_in_with_a_password(central: object) -> None:
    user = services.user_create(username="svc", role="caseworker", centre=central, is_service_account=True)  # type: ignore[arg-type]
    assert not user.has_usable_password()
    response = _password_step(Client(), "svc", "")
    assert response.status_code == 200


def test_disabling_an_account_ends_its_sessions_and_tokens(caseworker: factories.User, client_for, api_for) -> None:
    client = client_for(caseworker)
    api = api_for(caseworker)
    assert client.get("/cases/").status_code == 200
    assert api.get("/api/v1/cases/").status_code == 200
    admin = factories.make_user("admin")
    services.user_set_active(user=caseworker, active=False, acting_user=admin)
    assert client.get("/cases/").status_code == 302
    assert api.get("/api/v1/cases/").status_code == 401
    assert AuditEvent.objects.filter(action="user.disable", object_id=str(caseworker.pk)).exists()


def test_password_reset_never_skips_the_second_factor(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    response = client.post("/accounts/password-reset/", {"email": caseworker.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    new_password = "a-brand-new-long-passphrase-77"
    response = client.post(response.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302
    # Not signed in after the reset...
    assert client.get("/cases/").status_code == 302
    # ...and signing in with the new password still asks for the code.
    response = _password_step(client, caseworker.username, new_password)
    assert response["Location"].startswith("/accounts/verify/")
    assert client.get("/cases/").status_code == 302
    client.post("/accounts/verify/", {"code": factories.totp_code(device)})
    assert client.get("/cases/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.password_reset").exists()


def test_next_parameter_cannot_redirect_off_site(caseworker: factories.User) -> None:
    device = factories.make_device(caseworker)
    client = Client()
    client.post("/accounts/login/?next=https://evil.example/", {"username": caseworker.username, "password": factories.PASSWORD})
    response = client.post("/accounts/verify/?next=https://evil.example/", {"code": factories.totp_code(device)})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
