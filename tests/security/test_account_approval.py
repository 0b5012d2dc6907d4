"""Threat: an administrator alone switches on an account that reads victims' identities.

Before: an administrator created a caseworker or supervisor in any centre and it worked at once;
changing a role to supervisor or moving an account to another centre took effect at once too.

Control: an account with a case role (caseworker, supervisor) stays inactive until a supervisor
of its own centre approves it (core.accounts.user_approve; the page /staff/approvals/ lists only
that centre's accounts). That centre's supervisors are e-mailed when it is invited. A supervisor
of another centre, an administrator and a caseworker are refused (404 on the page,
PermissionDenied in the service). A centre with no supervisor yet is approved by a supervisor of
the central centre. Changing an account's role to a case role, or moving a case-role account to
another centre, needs that approval again, and the administrator's role change needs a fresh
step-up code from their own authenticator.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client

from core import accounts
from core.models import AuditEvent, User
from tests import factories

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-passphrase-of-my-own-93"


@pytest.fixture
def admin(central):
    return factories.make_user("admin", central, username="root_admin")


@pytest.fixture
def admin_client(admin):
    return factories.login_verified(Client(), admin)


def _invite(admin_client, capture, centre, *, username="newcw", role="caseworker") -> User:
    data = {"username": username, "email": f"{username}@example.org", "role": role, "centre": centre.pk}
    with capture(execute=True):
        response = admin_client.post("/staff/users/", data)
    assert response.status_code == 302
    return User.objects.get(username=username)


def _complete_invitation(user: User) -> Client:
    message = next(m for m in reversed(mail.outbox) if m.to == [user.email])
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+)", message.body).group(1)
    person = Client()
    form_url = person.get(link)["Location"]
    person.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    person.get("/accounts/enrol/")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user)
    response = person.post("/accounts/enrol/", {"code": factories.totp_code(device)})
    person.finished = response.content.decode()  # type: ignore[attr-defined]
    return person


def _sign_in(user: User) -> Client:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": NEW_PASSWORD})
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    client.post("/accounts/verify/", {"code": factories.totp_code(device, offset_steps=1)})
    return client


def test_a_case_role_account_waits_for_its_centres_supervisor(
    admin_client, central, region, supervisor, other_supervisor, django_capture_on_commit_callbacks
) -> None:
    newcomer = _invite(admin_client, django_capture_on_commit_callbacks, region)
    # The region's supervisors are told, not the central ones (the region has its own).
    told = [m for m in mail.outbox if other_supervisor.email in m.to]
    assert told and "newcw" in told[0].body
    assert not [m for m in mail.outbox if supervisor.email in m.to]

    person = _complete_invitation(newcomer)
    newcomer.refresh_from_db()
    assert not newcomer.is_active
    assert "waits for approval" in person.finished
    assert person.get("/cases/").status_code == 302

    # Another centre's supervisor, the administrator, a caseworker of the same centre: refused.
    central_sup = factories.login_verified(Client(), supervisor)
    assert central_sup.post(f"/staff/approvals/{newcomer.pk}/approve/").status_code == 404
    assert "newcw" not in central_sup.get("/staff/approvals/").content.decode()
    assert admin_client.post(f"/staff/approvals/{newcomer.pk}/approve/").status_code == 404
    region_worker = factories.make_user("caseworker", region, username="region_cw")
    assert factories.login_verified(Client(), region_worker).post(f"/staff/approvals/{newcomer.pk}/approve/").status_code == 404
    for outsider in (supervisor, region_worker, User.objects.get(username="root_admin")):
        with pytest.raises(PermissionDenied):
            accounts.user_approve(user=newcomer, acting_user=outsider)
    # Enabling it on the users page does not bypass approval either.
    admin_client.post(f"/staff/users/{newcomer.pk}/toggle-active/")
    newcomer.refresh_from_db()
    assert not newcomer.is_active

    region_sup = factories.login_verified(Client(), other_supervisor)
    assert "newcw" in region_sup.get("/staff/approvals/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert region_sup.post(f"/staff/approvals/{newcomer.pk}/approve/").status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_active and newcomer.approved_by == other_supervisor
    assert any(m.to == [newcomer.email] for m in mail.outbox[-2:])
    assert _sign_in(newcomer).get("/cases/").status_code == 200
    assert AuditEvent.objects.filter(action="user.approve", object_id=str(newcomer.pk)).exists()


def test_a_non_case_role_is_active_once_accepted(admin_client, central, django_capture_on_commit_callbacks) -> None:
    analyst = _invite(admin_client, django_capture_on_commit_callbacks, central, username="newan", role="analyst")
    _complete_invitation(analyst)
    analyst.refresh_from_db()
    assert analyst.is_active


def test_the_first_supervisor_of_a_new_centre_is_approved_centrally(
    admin_client, central, supervisor, django_capture_on_commit_callbacks
) -> None:
    daegu = factories.make_centre("daegu")
    first = _invite(admin_client, django_capture_on_commit_callbacks, daegu, username="daegu_sup", role="supervisor")
    assert any(supervisor.email in m.to for m in mail.outbox)
    central_sup = factories.login_verified(Client(), supervisor)
    assert "daegu_sup" in central_sup.get("/staff/approvals/").content.decode()
    central_sup.post(f"/staff/approvals/{first.pk}/approve/")
    first.refresh_from_db()
    assert first.approved_by == supervisor
    # Once the centre has its own supervisor, the central one no longer approves for it.
    _complete_invitation(first)
    first.refresh_from_db()
    assert first.is_active
    second = _invite(admin_client, django_capture_on_commit_callbacks, daegu, username="daegu_cw")
    assert central_sup.post(f"/staff/approvals/{second.pk}/approve/").status_code == 404


def test_a_role_change_needs_a_step_up_code_and_approval_again(
    admin, admin_client, region, other_supervisor, django_capture_on_commit_callbacks
) -> None:
    worker = factories.make_user("caseworker", region, username="promote_me")
    worker_client = factories.login_verified(Client(), worker)
    assert worker_client.get("/cases/").status_code == 200
    # Without a fresh code from the administrator's own authenticator: nothing changes.
    response = admin_client.post(f"/staff/users/{worker.pk}/change/", {"role": "supervisor", "centre": region.pk, "code": ""})
    assert response.status_code == 200
    worker.refresh_from_db()
    assert worker.role == "caseworker" and worker.is_active
    device = factories.make_device(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/staff/users/{worker.pk}/change/",
            {"role": "supervisor", "centre": region.pk, "code": factories.totp_code(device)},
        )
    assert response.status_code == 302
    worker.refresh_from_db()
    assert worker.role == "supervisor"
    assert not worker.is_active and worker.approved_at is None
    assert worker_client.get("/cases/").status_code == 302
    assert any(other_supervisor.email in m.to for m in mail.outbox)
    accounts.user_approve(user=worker, acting_user=other_supervisor)
    worker.refresh_from_db()
    assert worker.is_active


def test_moving_an_account_to_another_centre_needs_that_centres_approval(
    admin_client, admin, central, region, supervisor, other_supervisor, django_capture_on_commit_callbacks
) -> None:
    worker = factories.make_user("caseworker", central, username="moving")
    device = factories.make_device(admin)
    admin_client.post(
        f"/staff/users/{worker.pk}/change/", {"role": "caseworker", "centre": region.pk, "code": factories.totp_code(device)}
    )
    worker.refresh_from_db()
    assert worker.centre == region and not worker.is_active
    with pytest.raises(PermissionDenied):
        accounts.user_approve(user=worker, acting_user=supervisor)
    accounts.user_approve(user=worker, acting_user=other_supervisor)
    worker.refresh_from_db()
    assert worker.is_active
