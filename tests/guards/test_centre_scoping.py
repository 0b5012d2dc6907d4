"""Guard: every public selector that reads case data for a person scopes it to what that person
may see (cases/selectors.py, evidence/selectors.py, takedowns/selectors.py, and the intake
selectors in cases/selectors.py).

One centre's case, evidence, takedown requests (overdue, due soon, reappeared, failed, waiting
for a person, followed by another centre's request) and public reports (unrouted, routed, with a
case and unread messages) are read through each selector by accounts of another centre: its
supervisor, its caseworker, and a caseworker who opened the case and then moved to that centre.
None sees any of it; the case's own supervisor sees all of it (so no check passes by showing
nothing to anyone). Each selector is its own subtest, named after the function.

Selectors that take a case or report already fetched (consent_state, has_consent,
evidence_for_case, reporter_thread, intake_thread) and the platform list (the same for every
centre) read no person's scope. The pages and APIs over these selectors are tried across centres
in tests/security/test_cross_centre_lists.py and tests/cases/test_intake_routing.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases import intake
from cases import selectors as case_selectors
from core import accounts
from core import services as core_services
from core.errors import NotFound
from evidence import selectors as evidence_selectors
from takedowns import selectors as takedown_selectors
from takedowns import services as takedown_services
from takedowns import tasks
from takedowns.models import Notice, TakedownRequest
from takedowns.selectors import RequestFilters
from tests import factories
from tests.evidence.helpers import add_image

pytestmark = pytest.mark.django_db(transaction=True)  # evidence is stored outside a transaction

CONSENT = {"takedown": True, "hash_sharing": False, "police_referral": False}


def _report(**extra: Any) -> Any:
    response = APIClient().post(
        "/api/v1/intake/", {"description": "Pictures of me in a group chat.", "urls": ["https://chat.example/r/1"], **extra},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    report = intake.intake_find(response.json()["receipt"])
    intake.intake_reply(report=report, text="Any news?")  # an unread message for the staff who may see it
    return report


@pytest.fixture
def world(central, region, tmp_path) -> dict[str, Any]:
    """The central centre's data (the triage centre too), and the people of the Busan centre."""
    cw_home = factories.make_user("caseworker", central, username="cw_home")
    sup_home = factories.make_user("supervisor", central, username="sup_home")
    mover = factories.make_user("caseworker", central, username="cw_mover")
    case = factories.make_case(mover, consent=CONSENT)
    sup_far = factories.make_user("supervisor", region, username="sup_far")
    # Opened the case, then moved to Busan, whose supervisor let them in.
    core_services.user_set_centre(user=mover, centre=region)
    accounts.user_approve(user=mover, acting_user=sup_far)
    mover.refresh_from_db()
    assert mover.is_active and mover.centre_id == region.pk

    evidence = add_image(case, cw_home, tmp_path)
    manual = takedown_services.platform_create(
        acting_user=None, name="Form host", domains=["form.example"], channel="manual", web_form_url="https://form.example/r"
    )
    takedown_services.platform_create(
        acting_user=None, name="Mail host", domains=["mail.example"], channel="email", email="abuse@mail.example"
    )
    made = {
        name: takedown_services.takedown_create(case=case, url=f"https://mail.example/{name}", acting_user=sup_home)
        for name in ("overdue", "soon", "reappeared", "failed")
    }
    now = timezone.now()
    # States a request reaches after days of delivery and checks, set directly: only who may
    # read them matters here.
    TakedownRequest.objects.filter(pk=made["overdue"].pk).update(status="sent", deadline=now - timedelta(hours=2))
    TakedownRequest.objects.filter(pk=made["soon"].pk).update(status="sent", deadline=now + timedelta(hours=2))
    TakedownRequest.objects.filter(pk=made["reappeared"].pk).update(status="reappeared")
    TakedownRequest.objects.filter(pk=made["failed"].pk).update(status="failed")
    by_hand = takedown_services.takedown_create(case=case, url="https://form.example/v/1", acting_user=sup_home)
    takedown_services.takedown_approve(requests=[by_hand], acting_user=sup_home)
    tasks.deliver_notice(Notice.objects.get(request=by_hand).pk)
    assert Notice.objects.get(request=by_hand).status == "manual" and by_hand.platform_id == manual.pk

    # Busan's own case asks for the same page: it follows central's request.
    far_case = factories.make_case(sup_far, consent=CONSENT)
    follower = takedown_services.takedown_create(case=far_case, url="https://form.example/v/1", acting_user=sup_far)
    takedown_services.takedown_approve(requests=[follower], acting_user=sup_far)
    follower.refresh_from_db()
    assert follower.duplicate_of_id == by_hand.pk

    with_case = _report(centre="central")
    intake.intake_open_case(report=with_case, acting_user=cw_home, pseudonym="Pseudonym Heron", category="deepfake")
    return {
        "case": case,
        "evidence": evidence,
        "requests": [*made.values(), by_hand],
        "follower": TakedownRequest.objects.select_related("duplicate_of__case").get(pk=follower.pk),
        "reports": [_report(), _report(centre="central"), with_case],
        "staff": {cw_home.pk, sup_home.pk},
        "home": sup_home,
        "strangers": {
            "supervisor": sup_far,
            "caseworker": factories.make_user("caseworker", region, username="cw_far"),
            "moved caseworker": mover,
        },
    }


def _raises_not_found(read: Any) -> bool:
    try:
        read()
    except NotFound:
        return True
    return False


def _reads(world: dict[str, Any], user: Any) -> dict[str, Any]:
    """What each selector hands this person of the central centre's data."""
    case, evidence, requests, reports = world["case"], world["evidence"], world["requests"], world["reports"]
    request_ids = {r.pk for r in requests}
    report_ids = [r.pk for r in reports]
    now = timezone.now()

    def mine(qs: Any, ids: set[int]) -> set[int]:
        return set(qs.filter(pk__in=ids).values_list("pk", flat=True))

    return {
        "cases_visible_to": mine(case_selectors.cases_visible_to(user), {case.pk}),
        "case_get": not _raises_not_found(lambda: case_selectors.case_get(user=user, pk=case.pk)),
        "case_get_by_reference": not _raises_not_found(
            lambda: case_selectors.case_get_by_reference(user=user, reference=case.reference)
        ),
        "case_search": mine(case_selectors.case_search(user=user, q=case.reference), {case.pk}),
        "assignable_staff": mine(case_selectors.assignable_staff(user), world["staff"]),
        "evidence_visible_to": mine(evidence_selectors.evidence_visible_to(user), {evidence.pk}),
        "evidence_get": not _raises_not_found(lambda: evidence_selectors.evidence_get(user=user, pk=evidence.pk)),
        "may_download": evidence_selectors.may_download(user, evidence),
        "requests_visible_to": mine(takedown_selectors.requests_visible_to(user), request_ids),
        "requests_listed": mine(takedown_selectors.requests_listed(user=user, filters=RequestFilters()), request_ids),
        "requests_overdue": mine(takedown_selectors.requests_overdue(user=user, now=now), request_ids),
        "requests_due_soon": mine(takedown_selectors.requests_due_soon(user=user, now=now), request_ids),
        "requests_reappeared": mine(takedown_selectors.requests_reappeared(user=user), request_ids),
        "requests_failed": mine(takedown_selectors.requests_failed(user=user), request_ids),
        "manual_notices_visible_to": set(
            takedown_selectors.manual_notices_visible_to(user).filter(request_id__in=request_ids).values_list("pk", flat=True)
        ),
        "request_get": {
            r.pk for r in requests if not _raises_not_found(lambda r=r: takedown_selectors.request_get(user=user, pk=r.pk))
        },
        "duplicate_labels": takedown_selectors.duplicate_labels([world["follower"]], user=user)[world["follower"].pk]["visible"],
        "intake_reports_visible_to": mine(case_selectors.intake_reports_visible_to(user), set(report_ids)),
        "intake_reports_page": {r.pk for r in case_selectors.intake_reports_page(user=user, limit=1000)[0]} & set(report_ids),
        "intake_report_get": {
            pk for pk in report_ids if not _raises_not_found(lambda pk=pk: case_selectors.intake_report_get(user=user, pk=pk))
        },
        "unread_message_count": case_selectors.unread_message_count(user),
        "reports_with_unread_messages": mine(case_selectors.reports_with_unread_messages(user), set(report_ids)),
        "unread_counts_by_report": case_selectors.unread_counts_by_report(user, report_ids),
    }


def test_the_centres_own_supervisor_sees_all_of_it(world, subtests) -> None:
    """The reads below are not empty for everyone: the case's centre sees each thing."""
    reads = _reads(world, world["home"])
    for name, value in reads.items():
        with subtests.test(selector=name):
            assert value, f"{name} showed the case's own supervisor nothing"
    assert reads["unread_message_count"] == 3


@pytest.mark.parametrize("who", ["supervisor", "caseworker", "moved caseworker"])
def test_another_centres_account_sees_none_of_it(world, who, subtests) -> None:
    reads = _reads(world, world["strangers"][who])
    for name, value in reads.items():
        with subtests.test(selector=name):
            assert not value, f"{name} handed {who} of another centre: {value!r}"
