"""Threat: an administrator holds a usable credential for someone else.

Before: the staff users page asked the administrator for the new person's password, so the
administrator could sign in as a supervisor of any centre, enrol its authenticator at the first
sign-in and read victims' identities; "reset authenticator" let whoever knew the password enrol
the next one.

Control: the administrator gives only a username, role, centre and e-mail address. The account
is created with an unusable password and a single-use invitation whose key only the e-mail holds
(core.accounts; the database keeps a SHA-256 of it). Through the link the person sets their own
password and enrols their own authenticator, and is signed in only after its first correct code.
Enrolment is reachable only through such a link: never at sign-in, so a reset authenticator
sends a fresh link to the person. Used, expired, cancelled and forged links get one answer.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import services
from core.errors import ServiceError
from core.models import AuditEvent, Invitation, User
from tests import factories

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-passphrase-of-my-own-93"
ADMIN_CHOSEN = "the-admin-chose-this-password-1"


@pytest.fixture
def admin(central):
    return factories.make_user("admin", central, username="root_admin")


@pytest.fixture
def admin_client(admin):
    return factories.login_verified(Client(), admin)


def _invite(admin_client: Client, capture, central, **fields: str) -> object:
    data = {"username": "newbie", "email": "newbie@example.org", "role": "auditor", "centre": central.pk, **fields}
    with capture(execute=True):
        return admin_client.post("/staff/users/", data)


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+)", message.body).group(1)


def _accept(person: Client, link: str, password: str = NEW_PASSWORD) -> object:
    response = person.get(link)
    assert response.status_code == 302, "a valid link leads to the password page"
    page = person.get(response["Location"])
    assert page.status_code == 200
    return person.post(response["Location"], {"new_password1": password, "new_password2": password})


def _enrol(person: Client, user: User) -> object:
    html = person.get("/accounts/enrol/").content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    assert base64.b32decode(secret) == device.bin_key
    return person.post("/accounts/enrol/", {"code": factories.totp_code(device)})


def test_the_users_page_asks_for_no_password(admin_client: Client) -> None:
    html = admin_client.get("/staff/users/").content.decode()
    assert 'type="password"' not in html
    assert "Initial password" not in html


def test_an_admin_cannot_give_a_new_account_a_password(admin_client, central, django_capture_on_commit_callbacks) -> None:
    _invite(admin_client, django_capture_on_commit_callbacks, central, role="supervisor", password=ADMIN_CHOSEN)
    user = User.objects.get(username="newbie")
    assert not user.has_usable_password()
    # The administrator's choice does not open the account, and no enrolment page follows.
    response = Client().post("/accounts/login/", {"username": "newbie", "password": ADMIN_CHOSEN})
    assert response.status_code == 200
    assert "/accounts/enrol/" not in response.get("Location", "")


def test_the_service_refuses_a_password_from_an_admin(admin, central) -> None:
    with pytest.raises(ServiceError):
        services.user_create(username="chosen", role="caseworker", centre=central, password=ADMIN_CHOSEN, acting_user=admin)
    assert not User.objects.filter(username="chosen").exists()


def test_invitation_end_to_end(admin_client, central, django_capture_on_commit_callbacks) -> None:
    response = _invite(admin_client, django_capture_on_commit_callbacks, central)
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert not user.is_active and not user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newbie@example.org"]
    link = _link(mail.outbox[0])
    key = link.rstrip("/").rsplit("/", 1)[-1]
    # The administrator's pages never show the key, and the database keeps only its hash.
    listing = admin_client.get("/staff/users/").content.decode()
    assert key not in listing
    assert not Invitation.objects.filter(key_hash=key).exists()

    person = Client()
    response = _accept(person, link)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/enrol/")
    # A password alone signs nobody in.
    assert person.get("/audit/").status_code in (302, 404)
    response = _enrol(person, user)
    assert response.status_code == 302
    assert person.get("/audit/").status_code == 200
    user.refresh_from_db()
    assert user.is_active and user.check_password(NEW_PASSWORD)
    actions = set(AuditEvent.objects.filter(object_id=str(user.pk)).values_list("action", flat=True))
    assert {"user.invite", "user.invitation_accepted", "auth.two_factor_enrolled"} <= actions
    # The administrator's page never showed the authenticator's key either.
    device = TOTPDevice.objects.get(user=user)
    secret = base64.b32encode(device.bin_key).decode()
    assert secret[:8] not in admin_client.get("/staff/users/").content.decode()


def test_a_link_works_once(admin_client, central, django_capture_on_commit_callbacks) -> None:
    _invite(admin_client, django_capture_on_commit_callbacks, central)
    link = _link(mail.outbox[0])
    _accept(Client(), link)
    again = Client().get(link, follow=True)
    assert again.status_code == 404
    assert "does not work" in again.content.decode()


def _uniform(response) -> str:
    # The page, less what differs per visitor anyway (the CSRF token of the language menu).
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_expired_used_cancelled_and_forged_links_get_one_answer(
    admin_client, central, django_capture_on_commit_callbacks
) -> None:
    _invite(admin_client, django_capture_on_commit_callbacks, central, username="used", email="used@example.org")
    _accept(Client(), _link(mail.outbox[-1]))
    used = Client().get(_link(mail.outbox[-1]), follow=True)

    _invite(admin_client, django_capture_on_commit_callbacks, central, username="late", email="late@example.org")
    Invitation.objects.filter(user__username="late").update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = Client().get(_link(mail.outbox[-1]), follow=True)

    _invite(admin_client, django_capture_on_commit_callbacks, central, username="gone", email="gone@example.org")
    gone = User.objects.get(username="gone")
    admin_client.post(f"/staff/users/{gone.pk}/invitation/cancel/")
    cancelled = Client().get(_link(mail.outbox[-1]), follow=True)

    forged = Client().get(f"/accounts/invitation/{secrets.token_urlsafe(32)}/", follow=True)
    assert {r.status_code for r in (used, expired, cancelled, forged)} == {404}
    assert _uniform(used) == _uniform(expired) == _uniform(cancelled) == _uniform(forged)
    # Nothing was set on the accounts whose links failed.
    assert not User.objects.get(username="late").has_usable_password()
    assert not gone.has_usable_password()


def test_the_password_page_without_a_link_answers_the_same(db) -> None:
    response = Client().post("/accounts/invitation/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 404
    assert "does not work" in response.content.decode()


def test_resending_cancels_the_old_link(admin_client, central, django_capture_on_commit_callbacks) -> None:
    _invite(admin_client, django_capture_on_commit_callbacks, central)
    first = _link(mail.outbox[-1])
    user = User.objects.get(username="newbie")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/staff/users/{user.pk}/invitation/resend/")
    second = _link(mail.outbox[-1])
    assert first != second
    assert Client().get(first, follow=True).status_code == 404
    assert _accept(Client(), second).status_code == 302


def test_the_password_must_pass_the_validators(admin_client, central, django_capture_on_commit_callbacks) -> None:
    _invite(admin_client, django_capture_on_commit_callbacks, central)
    response = _accept(Client(), _link(mail.outbox[-1]), password="12345678")
    assert response.status_code == 200
    assert not User.objects.get(username="newbie").has_usable_password()


def test_a_known_password_cannot_enrol_after_a_reset(admin_client, central, django_capture_on_commit_callbacks) -> None:
    worker = factories.make_user("caseworker", central, username="worker", email="worker@example.org")
    factories.make_device(worker)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/staff/users/{worker.pk}/reset-two-factor/")
    # Whoever knows the password (the administrator who set it long ago, a colleague) gets no
    # enrolment page: they are not the holder of the person's e-mail.
    intruder = Client()
    response = intruder.post("/accounts/login/", {"username": "worker", "password": factories.PASSWORD})
    assert "/accounts/enrol/" not in response.get("Location", "")
    assert intruder.get("/accounts/enrol/").status_code == 302
    assert not TOTPDevice.objects.filter(user=worker).exists()
    # The person gets a fresh link and enrols through it.
    assert mail.outbox[-1].to == ["worker@example.org"]
    person = Client()
    assert _accept(person, _link(mail.outbox[-1])).status_code == 302
    assert _enrol(person, worker).status_code == 302
    assert person.get("/cases/").status_code == 200


def test_sign_in_without_an_authenticator_offers_no_enrolment(central) -> None:
    worker = factories.make_user("caseworker", central, username="no_device")
    client = Client()
    response = client.post("/accounts/login/", {"username": worker.username, "password": factories.PASSWORD})
    assert response.status_code == 200
    assert "invitation" in response.content.decode()
    assert client.get("/accounts/enrol/").status_code == 302
    assert not TOTPDevice.objects.filter(user=worker).exists()


def test_the_console_prints_a_link_and_sets_no_password(db) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("createstaffuser", "--username", "first_admin", "--role", "admin", "--print-link", stdout=out)
    user = User.objects.get(username="first_admin")
    assert not user.has_usable_password()
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+)", out.getvalue()).group(1)
    person = Client()
    assert _accept(person, link).status_code == 302
    assert _enrol(person, user).status_code == 302
    assert person.get("/staff/users/").status_code == 200
