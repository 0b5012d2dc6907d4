"""Duplicates without a worker: which request a new one is a duplicate of, who leads at approval,
and how followers follow (status, case status, audit)."""

from __future__ import annotations

import re

import pytest

from cases.models import Case
from core.models import AuditEvent
from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _second_look_at_once(settings) -> None:
    # A removal needs a second look; here it is recorded straight after the first (no fetch is made).
    settings.REMOVAL_CONFIRM_DELAY_S = 0


def test_same_page_in_the_same_case_is_refused_however_spelled(caseworker, sim_platform, api_for) -> None:
    case = consenting_case(caseworker)
    api = api_for(caseworker)
    assert api.post("/api/v1/takedowns/", {"case": case.pk, "url": "http://127.0.0.1/p/1"}, format="json").status_code == 201
    again = api.post("/api/v1/takedowns/", {"case": case.pk, "url": "HTTP://127.0.0.1:80/p/1?utm_campaign=x#c"}, format="json")
    assert again.status_code == 409
    assert TakedownRequest.objects.filter(case=case).count() == 1


def test_a_new_request_names_the_request_already_working_on_the_page(caseworker, other_supervisor, sim_platform, api_for):
    services.platform_create(
        acting_user=None, name="Video site", domains=["youtube.com", "youtu.be"], channel="email", email="abuse@yt.example"
    )
    mine = consenting_case(caseworker)
    first = services.takedown_create(case=mine, url="https://m.youtube.com/watch?v=abc&feature=share", acting_user=caseworker)
    services.takedown_approve(requests=[first], acting_user=caseworker)
    theirs = consenting_case(other_supervisor)
    answer = api_for(other_supervisor).post("/api/v1/takedowns/", {"case": theirs.pk, "url": "youtu.be/abc"}, format="json")
    assert answer.status_code == 201
    assert answer.json()["duplicate_of"] == str(first.pk)
    unrelated = api_for(other_supervisor).post("/api/v1/takedowns/", {"case": theirs.pk, "url": "youtu.be/xyz"}, format="json")
    assert unrelated.json()["duplicate_of"] is None


def test_whoever_is_approved_first_leads(caseworker, other_supervisor, sim_platform) -> None:
    a_case, b_case = consenting_case(caseworker), consenting_case(other_supervisor)
    a = services.takedown_create(case=a_case, url="http://127.0.0.1/lead/1", acting_user=caseworker)
    b = services.takedown_create(case=b_case, url="http://127.0.0.1/lead/1#x", acting_user=other_supervisor)
    assert b.duplicate_of_id == a.pk  # a draft: both caseworkers see each other's request
    services.takedown_approve(requests=[b], acting_user=other_supervisor)
    b.refresh_from_db()
    assert b.status == "queued" and b.duplicate_of_id is None  # nobody was sending: b sends
    assert Notice.objects.filter(request=b).count() == 1
    services.takedown_approve(requests=[a], acting_user=caseworker)
    a.refresh_from_db()
    assert a.status == "queued" and a.duplicate_of_id == b.pk
    assert not Notice.objects.filter(request=a).exists()  # no second notice
    assert AuditEvent.objects.filter(action="takedown.approve", details__following=1).exists()


def test_a_rejected_request_leads_nobody(caseworker, other_supervisor, sim_platform) -> None:
    old = services.takedown_create(case=consenting_case(caseworker), url="http://127.0.0.1/rej/1", acting_user=caseworker)
    TakedownRequest.objects.filter(pk=old.pk).update(status="rejected")
    new = services.takedown_create(
        case=consenting_case(other_supervisor), url="http://127.0.0.1/rej/1", acting_user=other_supervisor
    )
    assert new.duplicate_of_id is None


def test_followers_follow_removal_and_reappearance_and_their_cases_too(
    caseworker, other_supervisor, sim_platform, client_for
) -> None:
    lead_case, follow_case = consenting_case(caseworker), consenting_case(other_supervisor)
    lead = services.takedown_create(case=lead_case, url="http://127.0.0.1/f/1", acting_user=caseworker)
    services.takedown_approve(requests=[lead], acting_user=caseworker)
    TakedownRequest.objects.filter(pk=lead.pk).update(status="sent")  # as a delivery would
    result = services.takedown_bulk_create(
        case=follow_case, urls=["HTTP://127.0.0.1/f/1?utm_source=chat"], acting_user=other_supervisor
    )
    assert result.duplicates == 1
    [follower] = result.created
    services.takedown_approve(requests=[follower], acting_user=other_supervisor)
    follower.refresh_from_db()
    assert follower.status == "sent"

    services.record_check(lead.pk, "removed", http_status=404, distance=None, detail="HTTP 404")
    # The second look (REMOVAL_CONFIRM_DELAY_S = 0 here) confirms the removal.
    services.record_check(lead.pk, "removed", http_status=404, distance=None, detail="HTTP 404", second_look=True)
    follower.refresh_from_db()
    assert follower.status == "removed"
    assert follower.sent_at is None and follower.next_check_at is None  # never chased nor counted itself
    assert Case.objects.get(pk=follow_case.pk).status == "monitoring"
    assert Case.objects.get(pk=lead_case.pk).status == "monitoring"
    assert AuditEvent.objects.filter(action="takedown.followed", centre_id=other_supervisor.centre_id).exists()

    services.record_check(lead.pk, "still_up", http_status=200, distance=0, detail="back")
    follower.refresh_from_db()
    assert follower.status == "reappeared"
    assert Case.objects.get(pk=follow_case.pk).status == "open"

    # The follower's own case tells its caseworker, in words, on the case page.
    page = client_for(other_supervisor).get(f"/cases/{follow_case.pk}/").content.decode()
    assert f"#{follower.pk}: removal confirmed by our check (as the request it follows)" in page
    assert f"#{follower.pk}: material found again (as the request it follows)" in page
    assert not re.search(rf"#{lead.pk}\b", page)  # the other centre's request is not named


def test_migration_0010_gives_existing_followers_their_leaders_times(caseworker, other_supervisor, sim_platform) -> None:
    import importlib

    from django.apps import apps

    lead = services.takedown_create(case=consenting_case(caseworker), url="http://127.0.0.1/m/1", acting_user=caseworker)
    services.takedown_approve(requests=[lead], acting_user=caseworker)
    TakedownRequest.objects.filter(pk=lead.pk).update(status="sent")
    follower = services.takedown_create(
        case=consenting_case(other_supervisor), url="http://127.0.0.1/m/1", acting_user=other_supervisor
    )
    services.takedown_approve(requests=[follower], acting_user=other_supervisor)
    services.record_check(lead.pk, "removed", http_status=404, distance=None, detail="HTTP 404")
    # The second look (REMOVAL_CONFIRM_DELAY_S = 0 here) confirms the removal.
    services.record_check(lead.pk, "removed", http_status=404, distance=None, detail="HTTP 404", second_look=True)
    lead.refresh_from_db()
    # As a follower made before 0010 looked: the status alone.
    TakedownRequest.objects.filter(pk=follower.pk).update(removed_at=None)
    importlib.import_module("takedowns.migrations.0010_followers_show_leader_times").copy_leader_times(apps, None)
    follower.refresh_from_db()
    assert follower.status == "removed" and follower.removed_at == lead.removed_at
    assert follower.sent_at is None and follower.deadline is None
