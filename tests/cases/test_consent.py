"""An action that needs a consent is refused without it; a supervisor may override with a reason."""

from __future__ import annotations

import pytest

from cases import selectors, services
from cases.models import Referral
from core.errors import ConsentRequired, PermissionDenied, ServiceError
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_police_referral_refused_without_consent(caseworker) -> None:
    case = factories.make_case(caseworker)
    with pytest.raises(ConsentRequired, match="not consented"):
        services.referral_create(case=case, kind="police", acting_user=caseworker)
    assert not Referral.objects.filter(case=case).exists()


def test_refused_when_consent_was_withdrawn(caseworker) -> None:
    case = factories.make_case(caseworker, consent={"legal_support": True})
    services.consent_record(case=case, kind="legal_support", granted=False, method="phone", acting_user=caseworker)
    assert not selectors.has_consent(case, "legal_support")
    with pytest.raises(ConsentRequired):
        services.referral_create(case=case, kind="legal_aid", acting_user=caseworker)
    assert AuditEvent.objects.filter(action="consent.withdraw", object_id=str(case.pk)).exists()


def test_allowed_with_consent(caseworker) -> None:
    case = factories.make_case(caseworker, consent={"police_referral": True})
    referral = services.referral_create(case=case, kind="police", organisation="Seoul Police", acting_user=caseworker)
    assert referral.consent_overridden is False


def test_counselling_needs_no_specific_consent(caseworker) -> None:
    case = factories.make_case(caseworker)
    services.referral_create(case=case, kind="counselling", acting_user=caseworker)


def test_caseworker_cannot_override(caseworker) -> None:
    case = factories.make_case(caseworker)
    with pytest.raises(PermissionDenied):
        services.referral_create(case=case, kind="police", acting_user=caseworker, override_reason="I think it is urgent enough")
    assert not Referral.objects.filter(case=case).exists()
    assert not AuditEvent.objects.filter(action="consent.override").exists()


def test_supervisor_override_needs_a_reason_and_is_audited(caseworker, supervisor) -> None:
    case = factories.make_case(caseworker)
    with pytest.raises(ServiceError):
        services.referral_create(case=case, kind="police", acting_user=supervisor, override_reason="short")
    reason = "Immediate danger to a child; the law obliges us to report."
    # The view passes stepped_up once a fresh code was entered (tests/security/test_step_up.py).
    referral = services.referral_create(case=case, kind="police", acting_user=supervisor, override_reason=reason, stepped_up=True)
    assert referral.consent_overridden is True
    event = AuditEvent.objects.get(action="consent.override", object_id=str(case.pk))
    assert event.actor_username == supervisor.username
    assert event.details == {"kind": "police_referral", "reason": reason}
    assert case.events.filter(kind="consent_override").exists()


def test_consent_page_flow_and_refusal_message(caseworker, client_for) -> None:
    case = factories.make_case(caseworker)
    client = client_for(caseworker)
    response = client.post(f"/cases/{case.pk}/referrals/", {"referral-kind": "police"}, follow=True)
    assert "not consented" in response.content.decode() or "동의" in response.content.decode()
    assert not Referral.objects.filter(case=case).exists()
    client.post(
        f"/cases/{case.pk}/consent/", {"consent-kind": "police_referral", "consent-granted": "yes", "consent-method": "phone"}
    )
    assert selectors.has_consent(case, "police_referral")
    client.post(f"/cases/{case.pk}/referrals/", {"referral-kind": "police", "referral-organisation": "Local police"})
    assert Referral.objects.filter(case=case, kind="police").exists()
