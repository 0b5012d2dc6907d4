"""Threat: a high-value action taken on the strength of the code typed at sign-in.

Before: core.twofactor.complete stamped the session "recently verified" at sign-in, so for five
minutes after it anyone at the keyboard (or holding the session) could download originals and
export evidence without a code, and a consent override (a police referral or a takedown sent
without the victim's consent) asked for no code at all, in the browser or the API.

Control: core.twofactor.step_up stamps its own session key, only when a code is entered for the
action; the sign-in stamps nothing that counts (and django-otp refuses a code already used, so
the sign-in code cannot be typed again). A step-up code opens high-value actions for
OTP_RECENT_SECONDS (default 5 minutes). Downloads of originals, exports and consent overrides
(cases.services.consent_require takes stepped_up; the referral and takedown forms and the
send API carry a code) ask for one; an API token, having no person behind it, never overrides
consent. Role changes call the same step_up (the accounts part of this issue).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from cases.models import Referral
from core.models import AuditEvent
from core.twofactor import STEP_UP_AT_KEY
from evidence import storage
from evidence.models import CustodyEvent
from takedowns import services as takedown_services
from takedowns.models import TakedownRequest
from tests import factories
from tests.evidence.helpers import add_image

# Evidence is stored outside any transaction (evidence.services.evidence_add).
pytestmark = pytest.mark.django_db(transaction=True)

REASON = "The child is in immediate danger; the law obliges us to act now."


def _sign_in(user: factories.User) -> tuple[Client, str]:
    """Password, then the authenticator code, as a person signs in. Returns the client and the
    code used to sign in."""
    device = factories.make_device(user)
    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": factories.PASSWORD})
    code = factories.totp_code(device)
    assert client.post("/accounts/verify/", {"code": code}).status_code == 302
    return client, code


def _fresh_code(user: factories.User) -> str:
    """The authenticator's next code: a different one from the sign-in code, as a person would
    read it a little later."""
    return factories.totp_code(factories.make_device(user), offset_steps=1)


def _download(client: Client, evidence_pk: int, code: str = "") -> object:
    data = {"reason": "For the police report"}
    if code:
        data["code"] = code
    return client.post(f"/evidence/{evidence_pk}/download/", data)


def test_the_sign_in_code_does_not_open_a_download(supervisor, caseworker, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = add_image(case, caseworker, tmp_path)
    client, _ = _sign_in(supervisor)
    # Seconds after sign-in, no code: refused.
    assert _download(client, evidence.pk).status_code == 302
    assert not CustodyEvent.objects.filter(evidence=evidence, action="download").exists()
    # A fresh code: the original.
    response = _download(client, evidence.pk, _fresh_code(supervisor))
    assert response.status_code == 200
    original = storage.read_bytes(evidence.storage_key, evidence.key_id, evidence.wrapped_key)
    assert b"".join(response.streaming_content) == original


def test_a_step_up_code_counts_for_the_window_then_not(supervisor, caseworker, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = add_image(case, caseworker, tmp_path)
    client, _ = _sign_in(supervisor)
    assert _download(client, evidence.pk, _fresh_code(supervisor)).status_code == 200
    # Within OTP_RECENT_SECONDS: no second code asked.
    assert _download(client, evidence.pk).status_code == 200
    # Past the window (moved by rewriting the stamp, as the clock would): a code again.
    session = client.session
    session[STEP_UP_AT_KEY] = float(session[STEP_UP_AT_KEY]) - settings.OTP_RECENT_SECONDS - 1
    session.save()
    assert _download(client, evidence.pk).status_code == 302
    assert CustodyEvent.objects.filter(evidence=evidence, action="download").count() == 2


def test_the_sign_in_code_does_not_open_an_export(supervisor, caseworker, tmp_path) -> None:
    case = factories.make_case(caseworker)
    add_image(case, caseworker, tmp_path)
    client, _ = _sign_in(supervisor)
    response = client.post(f"/evidence/case/{case.pk}/export/", {"reason": "Requested by Seoul police"})
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="evidence.export").exists()
    response = client.post(
        f"/evidence/case/{case.pk}/export/", {"reason": "Requested by Seoul police", "code": _fresh_code(supervisor)}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"


def test_a_wrong_code_opens_nothing(supervisor, caseworker, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = add_image(case, caseworker, tmp_path)
    client, sign_in_code = _sign_in(supervisor)
    wrong = f"{(int(sign_in_code) + 1) % 1000000:06d}"
    if wrong == _fresh_code(supervisor):
        wrong = f"{(int(wrong) + 1) % 1000000:06d}"
    assert _download(client, evidence.pk, wrong).status_code == 302
    response = client.post(
        f"/cases/{case.pk}/referrals/",
        {"referral-kind": "police", "referral-override_reason": REASON, "referral-override_code": wrong},
    )
    assert response.status_code == 302
    assert not Referral.objects.filter(case=case).exists()
    # The sign-in code typed again: refused too (django-otp takes each code once).
    assert _download(client, evidence.pk, sign_in_code).status_code == 302
    assert not CustodyEvent.objects.filter(evidence=evidence, action="download").exists()


def test_the_sign_in_code_does_not_open_a_consent_override_referral(supervisor, caseworker) -> None:
    case = factories.make_case(caseworker)  # no consent to a police referral
    client, _ = _sign_in(supervisor)
    client.post(f"/cases/{case.pk}/referrals/", {"referral-kind": "police", "referral-override_reason": REASON})
    assert not Referral.objects.filter(case=case).exists()
    assert not AuditEvent.objects.filter(action="consent.override").exists()

    client.post(
        f"/cases/{case.pk}/referrals/",
        {"referral-kind": "police", "referral-override_reason": REASON, "referral-override_code": _fresh_code(supervisor)},
    )
    referral = Referral.objects.get(case=case)
    assert referral.consent_overridden
    assert AuditEvent.objects.get(action="consent.override").actor_username == supervisor.username


def _draft_without_consent(caseworker: factories.User) -> TakedownRequest:
    takedown_services.platform_create(
        acting_user=None, name="Mailhost", domains=["mail.example"], channel="email", email="abuse@mail.example"
    )
    case = factories.make_case(caseworker, consent={"takedown": False, "hash_sharing": False, "police_referral": False})
    return takedown_services.takedown_create(case=case, url="https://mail.example/v/1", acting_user=caseworker)


def test_the_sign_in_code_does_not_open_a_takedown_sent_without_consent(supervisor, caseworker) -> None:
    draft = _draft_without_consent(caseworker)
    client, _ = _sign_in(supervisor)
    client.post(f"/takedowns/case/{draft.case_id}/approve/", {"requests": [str(draft.pk)], "override_reason": REASON})
    draft.refresh_from_db()
    assert draft.status == "draft"

    client.post(
        f"/takedowns/case/{draft.case_id}/approve/",
        {"requests": [str(draft.pk)], "override_reason": REASON, "override_code": _fresh_code(supervisor)},
    )
    draft.refresh_from_db()
    assert draft.status == "queued"
    assert draft.consent_overridden


def test_the_api_override_needs_a_fresh_code_and_never_a_token(supervisor, caseworker) -> None:
    draft = _draft_without_consent(caseworker)
    # A supervisor's service account by token: a machine never overrides consent.
    robot = APIClient()
    robot.credentials(HTTP_AUTHORIZATION=f"Token {factories.issue_token(supervisor)}")
    response = robot.post(f"/api/v1/takedowns/{draft.pk}/send/", {"override_reason": REASON}, format="json")
    assert response.status_code == 403
    assert "fresh code" in response.json()["detail"]

    # The supervisor in a verified browser session: the sign-in code does not count...
    device = factories.make_device(supervisor)
    session = APIClient()
    session.post("/accounts/login/", {"username": supervisor.username, "password": factories.PASSWORD})
    session.post("/accounts/verify/", {"code": factories.totp_code(device)})
    response = session.post(f"/api/v1/takedowns/{draft.pk}/send/", {"override_reason": REASON}, format="json")
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"
    # ...a fresh one does.
    response = session.post(
        f"/api/v1/takedowns/{draft.pk}/send/", {"override_reason": REASON, "code": _fresh_code(supervisor)}, format="json"
    )
    assert response.status_code == 202
    draft.refresh_from_db()
    assert draft.consent_overridden
