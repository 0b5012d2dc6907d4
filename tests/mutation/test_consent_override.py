"""What a person is told, and what is kept, when an action lacks the victim's consent; pinned where
mutation testing (`make mutate`) found cases.services.consent_require loose.

Threat: an action the victim did not consent to goes ahead, or a refusal tells the caseworker
nothing they can act on, or an override leaves no trace of who overrode and why.
Control: cases.services.consent_require: consent in force passes; otherwise a written reason, a
supervisor, a full sentence and a fresh authenticator code, in that order; an override records
"consent.override" in the audit chain and a CONSENT_OVERRIDE entry on the case's timeline.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from cases import services
from cases.models import CaseEvent, ConsentRecord, EventKind
from core.errors import ConsentRequired, PermissionDenied, ServiceError
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _require(case, user, reason: str = "", stepped_up: bool = False, kind: str = "police_referral") -> bool:
    with transaction.atomic():
        return services.consent_require(case=case, kind=kind, acting_user=user, override_reason=reason, stepped_up=stepped_up)


def test_each_refusal_says_what_to_do(caseworker, supervisor):
    case = factories.make_case(caseworker)
    with pytest.raises(ConsentRequired) as caught:
        _require(case, supervisor, reason="   ")
    assert caught.value.message == (
        "The victim has not consented to this (Referral to the police). Record their consent first, "
        "or a supervisor may override with a written reason."
    )
    with pytest.raises(PermissionDenied) as caught:
        _require(case, caseworker, reason="The victim asked us by phone today.", stepped_up=True)
    assert caught.value.message == "Only a supervisor may act without the victim's consent."
    with pytest.raises(ServiceError) as caught:
        _require(case, supervisor, reason="   too short  ", stepped_up=True)
    assert (caught.value.message, caught.value.field) == ("Explain the override in a full sentence.", "override_reason")
    with pytest.raises(PermissionDenied) as caught:
        _require(case, supervisor, reason="The victim asked us by phone today.")
    assert caught.value.message == "Acting without the victim's consent needs a fresh code from your authenticator."
    assert caught.value.field == "override_code"
    assert not AuditEvent.objects.filter(action="consent.override").exists()


def test_a_ten_character_reason_is_a_sentence_enough(caseworker, supervisor):
    case = factories.make_case(caseworker)
    reason = "  Called her  "  # ten characters once trimmed: the shortest sentence accepted
    assert len(reason.strip()) == 10
    assert _require(case, supervisor, reason=reason, stepped_up=True) is True


def test_an_override_is_kept_with_who_why_and_what(caseworker, supervisor):
    case = factories.make_case(caseworker)
    reason = "The victim is in danger; the police must act tonight. " * 30
    assert _require(case, supervisor, reason=f"  {reason}  ", stepped_up=True) is True
    event = AuditEvent.objects.filter(action="consent.override").get()
    assert (event.actor_id, event.object_id, event.centre_id) == (supervisor.pk, str(case.pk), case.centre_id)
    assert event.details == {"kind": "police_referral", "reason": reason.strip()[:1000]}
    timeline = CaseEvent.objects.filter(case=case, kind=EventKind.CONSENT_OVERRIDE).get()
    assert (timeline.text, timeline.author, timeline.data) == (reason.strip(), supervisor, {"kind": "police_referral"})


def test_consent_in_force_needs_no_override(caseworker, supervisor):
    case = factories.make_case(caseworker)
    ConsentRecord.objects.create(case=case, kind="police_referral", granted=True, method="phone", recorded_by=caseworker)
    assert _require(case, caseworker) is False
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.CONSENT_OVERRIDE).exists()


def test_a_caller_that_passes_nothing_gets_the_strictest_answer(caseworker, supervisor):
    """The defaults refuse: no reason means none was given, no stepped_up means no fresh code."""
    case = factories.make_case(caseworker)
    with pytest.raises(ConsentRequired), transaction.atomic():
        services.consent_require(case=case, kind="takedown", acting_user=caseworker)
    with pytest.raises(PermissionDenied) as caught, transaction.atomic():
        services.consent_require(
            case=case, kind="takedown", acting_user=supervisor, override_reason="The victim asked us by phone today."
        )
    assert caught.value.field == "override_code"
