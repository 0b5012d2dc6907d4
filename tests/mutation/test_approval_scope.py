"""Approving and sending takedowns, pinned where mutation testing (`make mutate`) found
takedowns.services.takedown_approve and takedown_send_selected loose.

Threat: "approve all drafts" of one case approves drafts of every case in the system (or requests
already sent, again); a notice of one case carries another case's reference; an override of the
victim's consent goes through without a fresh code, or is lost on the way; a refusal does not say
which of the chosen ids were wrong.
Control: takedown_send_selected approves only drafts of the case it is given, refuses a choice with
a stranger or a sent request whole, and passes the override and the fresh code on; takedown_approve
checks consent per case, without a fresh code unless one was entered, and writes each notice
from its own case.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, ConsentRequired, PermissionDenied, ServiceError
from core.models import AuditEvent
from takedowns import services
from takedowns.models import Notice, TakedownRequest
from takedowns.notices import find_reference_token
from takedowns.urlnorm import url_key
from tests import factories
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db

REASON = "The victim is in hospital and asked us by phone to act today."


@pytest.fixture
def loopback_platform(db):
    """A platform for the loopback addresses below; nothing is sent in these tests (no worker)."""
    return services.platform_create(
        acting_user=None, name="Loopback Host", domains=["127.0.0.1"], channel="email", email="abuse@loopback.example",
        jurisdiction="KR",
    )  # fmt: skip


def _drafts(case, user, prefix: str, n: int) -> list[TakedownRequest]:
    return [services.takedown_create(case=case, url=f"http://127.0.0.1/{prefix}/{i}", acting_user=user) for i in range(n)]


def _statuses(case) -> list[str]:
    return sorted(TakedownRequest.objects.filter(case=case).values_list("status", flat=True))


def test_approve_all_takes_only_this_cases_drafts(caseworker, loopback_platform) -> None:
    case, other = consenting_case(caseworker), consenting_case(caseworker)
    mine = _drafts(case, caseworker, "mine", 3)
    _drafts(other, caseworker, "other", 2)
    services.takedown_approve(requests=[mine[0]], acting_user=caseworker)
    approved = services.takedown_send_selected(case=case, all_drafts=True, acting_user=caseworker)
    assert sorted(r.pk for r in approved) == [mine[1].pk, mine[2].pk]  # not the one already sent
    assert _statuses(case) == ["queued"] * 3 and _statuses(other) == ["draft", "draft"]
    assert Notice.objects.filter(request__case=case).count() == 3  # one each, none twice
    assert not Notice.objects.filter(request__case=other).exists()


def test_each_refusal_of_a_choice_says_which_ids_and_why(caseworker, loopback_platform) -> None:
    case = consenting_case(caseworker)
    mine = _drafts(case, caseworker, "c", 2)
    with pytest.raises(ServiceError) as refused:
        services.takedown_send_selected(case=case, ids=["12", "twelve"], acting_user=caseworker)
    assert (refused.value.message, refused.value.field) == ("Request ids are numbers.", "ids")
    with pytest.raises(ServiceError) as refused:
        services.takedown_send_selected(case=case, ids=[], acting_user=caseworker)
    assert refused.value.field == "ids"
    assert refused.value.message == "Nothing was selected: choose the drafts to approve, or approve all drafts."
    strangers = list(range(10**6, 10**6 + 21))
    with pytest.raises(ServiceError) as refused:
        services.takedown_send_selected(case=case, ids=[mine[0].pk, *strangers], acting_user=caseworker)
    listed = ", ".join(f"#{i}" for i in strangers[:20])
    assert refused.value.message == f"These are not takedown requests of this case: {listed}. Nothing was approved."
    assert refused.value.field == "ids"
    services.takedown_approve(requests=[mine[0]], acting_user=caseworker)
    with pytest.raises(Conflict) as refused:
        services.takedown_send_selected(case=case, ids=[mine[1].pk, mine[0].pk], acting_user=caseworker)
    assert refused.value.message == (
        f"Only drafts are approved; these are not drafts any more: #{mine[0].pk}. Nothing was approved."
    )
    with pytest.raises(ServiceError) as refused:
        services.takedown_approve(requests=[], acting_user=caseworker)
    assert refused.value.message == "Choose at least one request."
    assert _statuses(case) == ["draft", "queued"]


@pytest.mark.parametrize("all_drafts", [True, False])
def test_a_consent_override_needs_a_fresh_code_and_is_passed_on(caseworker, supervisor, loopback_platform, all_drafts) -> None:
    """A case without the victim's consent to takedowns: only a supervisor, with a reason and a
    fresh code, sends; choosing by ids or "all drafts" makes no difference."""
    case = factories.make_case(caseworker)
    drafts = _drafts(case, caseworker, "o", 2)
    choice = {"all_drafts": True} if all_drafts else {"ids": [d.pk for d in drafts]}
    with pytest.raises(PermissionDenied):
        services.takedown_send_selected(case=case, acting_user=supervisor, override_reason=REASON, **choice)
    with pytest.raises(PermissionDenied):
        services.takedown_approve(requests=drafts, acting_user=supervisor, override_reason=REASON)
    assert _statuses(case) == ["draft", "draft"]
    approved = services.takedown_send_selected(
        case=case, acting_user=supervisor, override_reason=REASON, stepped_up=True, **choice
    )
    assert len(approved) == 2
    assert set(TakedownRequest.objects.filter(case=case).values_list("consent_overridden", flat=True)) == {True}


def test_one_approval_over_two_cases_writes_each_notice_from_its_own_case(caseworker, loopback_platform) -> None:
    first, second = consenting_case(caseworker), consenting_case(caseworker)
    a = services.takedown_create(case=first, url="http://127.0.0.1/two/a", acting_user=caseworker)
    b = services.takedown_create(case=second, url="http://127.0.0.1/two/b", acting_user=caseworker)
    services.takedown_approve(requests=[a, b], acting_user=caseworker)
    for request, case in ((a, first), (b, second)):
        body = Notice.objects.get(request=request).body
        assert find_reference_token(body) == (case.reference, request.pk)


def test_a_draft_made_before_address_keys_gets_its_key_at_approval(caseworker, loopback_platform) -> None:
    case = consenting_case(caseworker)
    old = services.takedown_create(case=case, url="http://127.0.0.1/old/1?utm_source=x", acting_user=caseworker)
    TakedownRequest.objects.filter(pk=old.pk).update(url_key="")
    services.takedown_approve(requests=[TakedownRequest.objects.get(pk=old.pk)], acting_user=caseworker)
    old.refresh_from_db()
    assert old.url_key == url_key("http://127.0.0.1/old/1?utm_source=x") != ""
    # And the key finds it: the same page filed again in another case follows it.
    again = services.takedown_create(case=consenting_case(caseworker), url="http://127.0.0.1/old/1", acting_user=caseworker)
    assert again.duplicate_of_id == old.pk


def test_a_follower_approved_later_shows_its_leaders_status_and_times(caseworker, other_supervisor, loopback_platform) -> None:
    leader = services.takedown_create(case=consenting_case(caseworker), url="http://127.0.0.1/lead/9", acting_user=caseworker)
    services.takedown_approve(requests=[leader], acting_user=caseworker)
    # The platform has answered since (as its acknowledgement would record it).
    answered = timezone.now() - timedelta(hours=3)
    TakedownRequest.objects.filter(pk=leader.pk).update(status="acknowledged", acknowledged_at=answered)
    follower = services.takedown_create(
        case=consenting_case(other_supervisor), url="http://127.0.0.1/lead/9", acting_user=other_supervisor
    )
    services.takedown_approve(requests=[follower], acting_user=other_supervisor)
    follower.refresh_from_db()
    assert follower.duplicate_of_id == leader.pk
    assert (follower.status, follower.acknowledged_at) == ("acknowledged", answered)
    assert not Notice.objects.filter(request=follower).exists()


def test_without_an_override_the_refusal_says_consent_is_missing(caseworker, supervisor, loopback_platform) -> None:
    case = factories.make_case(caseworker)
    _drafts(case, caseworker, "n", 1)
    with pytest.raises(ConsentRequired) as refused:
        services.takedown_send_selected(case=case, all_drafts=True, acting_user=supervisor, stepped_up=True)
    assert refused.value.message.startswith("The victim has not consented to this (")


def test_an_approval_records_who_approved_when_and_wakes_a_worker_for_its_notices(
    caseworker, loopback_platform, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    woken: list[list[int]] = []
    monkeypatch.setattr(services, "wake_notices", lambda ids: woken.append(sorted(ids)))
    case = consenting_case(caseworker)
    drafts = _drafts(case, caseworker, "w", 2)
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        services.takedown_approve(requests=drafts, acting_user=caseworker)
    rows = TakedownRequest.objects.filter(case=case)
    assert {(r.approved_by_id, r.approved_at >= start) for r in rows} == {(caseworker.pk, True)}
    assert woken == [sorted(Notice.objects.filter(request__case=case).values_list("pk", flat=True))]
    event = AuditEvent.objects.get(action="takedown.approve")
    assert (event.actor_id, event.object_type, event.object_id) == (caseworker.pk, "cases.case", str(case.pk))
    assert sorted(event.details.pop("requests")) == sorted(d.pk for d in drafts)
    assert event.details == {"count": 2, "following": 0}


def test_an_address_without_a_platform_stops_the_whole_approval(caseworker, loopback_platform) -> None:
    case = consenting_case(caseworker)
    known = _drafts(case, caseworker, "p", 1)
    unknown = [services.takedown_create(case=case, url=f"https://nowhere{i}.example/x", acting_user=caseworker) for i in range(2)]
    with pytest.raises(ServiceError) as refused:
        services.takedown_approve(requests=known + unknown, acting_user=caseworker)
    assert refused.value.message == "2 addresses have no platform yet; choose or create their platform first."
    assert _statuses(case) == ["draft"] * 3 and not Notice.objects.exists()


def test_the_same_page_from_two_cases_in_one_approval_is_sent_once(caseworker, loopback_platform) -> None:
    first, second = consenting_case(caseworker), consenting_case(caseworker)
    a = services.takedown_create(case=first, url="http://127.0.0.1/same/1", acting_user=caseworker)
    b = services.takedown_create(case=second, url="http://127.0.0.1/same/1?utm_medium=x", acting_user=caseworker)
    TakedownRequest.objects.filter(pk=b.pk).update(duplicate_of=None)  # both drafts, neither leading yet
    services.takedown_approve(requests=[a, b], acting_user=caseworker)
    [sent] = Notice.objects.values_list("request_id", flat=True)  # one notice for the page
    leader, follower = (a, b) if sent == a.pk else (b, a)
    leader.refresh_from_db()
    follower.refresh_from_db()
    assert (leader.status, leader.duplicate_of_id) == ("queued", None)
    assert (follower.status, follower.duplicate_of_id) == ("queued", leader.pk)


def test_a_follower_of_a_removed_page_leaves_its_case_in_monitoring(caseworker, other_supervisor, loopback_platform) -> None:
    """Approving a request for a page another case already had removed finishes it at once; with
    nothing else to chase, its case goes to monitoring as after any removal."""
    leader = services.takedown_create(case=consenting_case(caseworker), url="http://127.0.0.1/gone/1", acting_user=caseworker)
    services.takedown_approve(requests=[leader], acting_user=caseworker)
    TakedownRequest.objects.filter(pk=leader.pk).update(status="removed", removed_at=timezone.now())
    theirs = consenting_case(other_supervisor)
    busy = consenting_case(other_supervisor)
    follower = services.takedown_create(case=theirs, url="http://127.0.0.1/gone/1", acting_user=other_supervisor)
    pending = services.takedown_create(case=busy, url="http://127.0.0.1/gone/1#again", acting_user=other_supervisor)
    services.takedown_create(case=busy, url="http://127.0.0.1/still/up", acting_user=other_supervisor)
    services.takedown_approve(requests=[follower, pending], acting_user=other_supervisor)
    theirs.refresh_from_db()
    busy.refresh_from_db()
    assert theirs.status == "monitoring"
    assert busy.status != "monitoring"  # another of its requests is still to do


@pytest.mark.django_db(transaction=True)
def test_linking_evidence_of_another_case_is_refused_by_name_in_the_api(caseworker, loopback_platform, api_for, tmp_path) -> None:
    from tests.evidence.helpers import add_image

    case, other = consenting_case(caseworker), consenting_case(caseworker)
    foreign = add_image(other, caseworker, tmp_path, seed=71)
    answer = api_for(caseworker).post(
        "/api/v1/takedowns/", {"case": case.pk, "url": "http://127.0.0.1/ev/1", "evidence": [foreign.pk]}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "Evidence must belong to the same case.", "errors": {"evidence": ["Evidence must belong to the same case."]},
    }  # fmt: skip
    assert not TakedownRequest.objects.filter(case=case).exists()
