"""Guard: an action that needs the victim's consent is refused without it, where people take it.

- referrals to the police and to legal aid (cases.services.referral_create -> consent_require,
  REFERRAL_CONSENT);
- approving and sending takedown notices (takedowns.services.takedown_approve -> consent_require),
  on the case page, by the send API and by the case's send API;
- sharing fingerprints: a notice carries the evidence's fingerprints only with consent to hash
  sharing (takedowns.transports.api.notice_fingerprints), seen here in what the platform
  receives; the partner hash list is pinned by tests/takedowns/test_hashlist.py.

Each is tried first without consent (refused, nothing made or sent), then with the consent
recorded on the case page (done), so no check passes by refusing everything.
The supervisor's override (a reason and a fresh code) is pinned by tests/security/test_step_up.py
and tests/cases/test_consent.py.
"""

from __future__ import annotations

import pytest

from cases.models import Referral
from takedowns import tasks
from takedowns.models import Notice, TakedownRequest
from tests import factories
from tests.evidence.helpers import add_image
from tests.pagetext import visible_text

pytestmark = pytest.mark.django_db(transaction=True)  # evidence is stored outside a transaction

NO_CONSENT = {"takedown": False, "hash_sharing": False, "police_referral": False, "legal_support": False}


def _consent(client, case_pk: int, kind: str) -> None:
    response = client.post(
        f"/cases/{case_pk}/consent/", {"consent-kind": kind, "consent-granted": "yes", "consent-method": "phone"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(("referral", "consent"), [("police", "police_referral"), ("legal_aid", "legal_support")])
def test_a_referral_needs_the_victims_consent(referral, consent, caseworker, client_for) -> None:
    case = factories.make_case(caseworker, consent=NO_CONSENT)
    page = client_for(caseworker)
    response = page.post(f"/cases/{case.pk}/referrals/", {"referral-kind": referral, "referral-organisation": "Org"}, follow=True)
    assert "The victim has not consented to this" in visible_text(response.content.decode())
    assert not Referral.objects.filter(case=case).exists()

    _consent(page, case.pk, consent)
    page.post(f"/cases/{case.pk}/referrals/", {"referral-kind": referral, "referral-organisation": "Org"})
    made = Referral.objects.get(case=case)
    assert made.kind == referral and not made.consent_overridden


def test_counselling_needs_no_consent_on_the_page(caseworker, client_for) -> None:
    case = factories.make_case(caseworker, consent=NO_CONSENT)
    client_for(caseworker).post(f"/cases/{case.pk}/referrals/", {"referral-kind": "counselling", "referral-organisation": "Org"})
    assert Referral.objects.filter(case=case, kind="counselling").exists()


@pytest.fixture
def draft(caseworker, mail_platform) -> TakedownRequest:
    from takedowns import services

    case = factories.make_case(caseworker, consent=NO_CONSENT)
    return services.takedown_create(case=case, url="http://localhost/v/1", acting_user=caseworker)


def test_the_case_page_sends_no_notice_without_consent_to_takedown(draft, caseworker, client_for) -> None:
    page = client_for(caseworker)
    response = page.post(f"/takedowns/case/{draft.case_id}/approve/", {"requests": [str(draft.pk)]}, follow=True)
    assert "The victim has not consented to this" in visible_text(response.content.decode())
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Notice.objects.filter(request=draft).exists()

    _consent(page, draft.case_id, "takedown")
    page.post(f"/takedowns/case/{draft.case_id}/approve/", {"requests": [str(draft.pk)]})
    draft.refresh_from_db()
    assert draft.status == "queued" and not draft.consent_overridden
    assert Notice.objects.filter(request=draft).count() == 1


def test_the_send_apis_send_nothing_without_consent_to_takedown(draft, caseworker, api_for, client_for) -> None:
    api = api_for(caseworker)
    response = api.post(f"/api/v1/takedowns/{draft.pk}/send/", {}, format="json")
    assert response.status_code == 409, response.content
    assert "not consented" in response.json()["detail"]
    response = api.post(f"/api/v1/cases/{draft.case_id}/takedowns/send/", {"all": True}, format="json")
    assert response.status_code == 409, response.content
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not Notice.objects.filter(request=draft).exists()

    _consent(client_for(caseworker), draft.case_id, "takedown")
    assert api.post(f"/api/v1/takedowns/{draft.pk}/send/", {}, format="json").status_code == 202
    draft.refresh_from_db()
    assert draft.status == "queued"


@pytest.mark.parametrize("hash_sharing", [False, True])
def test_a_notice_carries_fingerprints_only_with_consent_to_hash_sharing(
    hash_sharing, simulator, sim_platform, caseworker, api_for, tmp_path
) -> None:
    case = factories.make_case(caseworker, consent={**NO_CONSENT, "takedown": True, "hash_sharing": hash_sharing})
    evidence = add_image(case, caseworker, tmp_path, seed=5)
    api = api_for(caseworker)
    created = api.post(
        "/api/v1/takedowns/", {"case": case.pk, "url": "http://127.0.0.1/p/5", "evidence": [evidence.pk]}, format="json"
    )
    assert created.status_code == 201, created.content
    assert api.post(f"/api/v1/takedowns/{created.json()['id']}/send/", {}, format="json").status_code == 202
    # The delivery task, run here rather than by a worker: what the platform receives is the point.
    tasks.deliver_notice(Notice.objects.get(request_id=created.json()["id"]).pk)
    [received] = simulator.notices
    pdq = evidence.fingerprints.get(algorithm="pdq", mirrored=False).value
    shared = [f["value"] for f in received["body"].get("fingerprints") or []]
    assert (pdq in shared) is hash_sharing
    if not hash_sharing:
        assert not shared


REASON = "The child is in immediate danger; the law obliges us to act now."


def _code(user: factories.User, step: int = 0) -> str:
    return factories.totp_code(factories.make_device(user), offset_steps=step)


def test_a_caseworker_cannot_override_even_with_a_reason_and_a_fresh_code(caseworker, client_for) -> None:
    """The code and the reason are in order, so only the role can refuse."""
    from core.models import AuditEvent

    case = factories.make_case(caseworker, consent=NO_CONSENT)
    page = client_for(caseworker)
    response = page.post(
        f"/cases/{case.pk}/referrals/",
        {"referral-kind": "police", "referral-override_reason": REASON, "referral-override_code": _code(caseworker)},
        follow=True,
    )
    assert "Only a supervisor may act without the victim's consent." in visible_text(response.content.decode())
    assert not Referral.objects.filter(case=case).exists()
    assert not AuditEvent.objects.filter(action="consent.override").exists()


def test_an_override_needs_a_full_sentence_even_with_a_fresh_code(caseworker, supervisor, client_for) -> None:
    case = factories.make_case(caseworker, consent=NO_CONSENT)
    page = client_for(supervisor)
    response = page.post(
        f"/cases/{case.pk}/referrals/",
        {"referral-kind": "police", "referral-override_reason": "urgent", "referral-override_code": _code(supervisor)},
        follow=True,
    )
    assert "Explain the override in a full sentence." in visible_text(response.content.decode())
    assert not Referral.objects.filter(case=case).exists()

    page.post(
        f"/cases/{case.pk}/referrals/",
        {"referral-kind": "police", "referral-override_reason": REASON, "referral-override_code": _code(supervisor, 1)},
    )
    assert Referral.objects.get(case=case).consent_overridden
