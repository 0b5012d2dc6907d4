"""The "My work" home page of caseworkers and supervisors: what waits for each person, counted
within what they may see, each count linking to the list behind it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from takedowns import services as takedown_services
from takedowns.models import RequestStatus, TakedownRequest
from tests import factories
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db


def _request(case, user, url: str, **state) -> TakedownRequest:
    request = takedown_services.takedown_create(case=case, url=url, acting_user=user)
    # The states below take a platform, a worker and days of waiting to reach; the page only
    # reads them, so the test sets them directly.
    TakedownRequest.objects.filter(pk=request.pk).update(**state)
    return request


def _counts(html: str) -> dict[str, int]:
    found = re.findall(r'data-work="([a-z_]+)" id="work-[a-z_]+">\s*<a href="[^"]*">\s*<span class="work-count"[^>]*>(\d+)', html)
    return {key: int(n) for key, n in found}


def _href(html: str, key: str) -> str:
    match = re.search(rf'data-work="{key}" id="work-{key}">\s*<a href="([^"]*)"', html)
    assert match, key
    return match.group(1).replace("&amp;", "&")


@pytest.fixture
def busy_caseworker(central, caseworker, region):
    """A caseworker with one of everything, beside work of a colleague and of another centre."""
    now = timezone.now()
    case = consenting_case(caseworker)
    _request(case, caseworker, "https://a.example/overdue", status=RequestStatus.SENT, deadline=now - timedelta(hours=2))
    _request(case, caseworker, "https://a.example/soon", status=RequestStatus.SENT, deadline=now + timedelta(hours=3))
    _request(case, caseworker, "https://a.example/later", status=RequestStatus.SENT, deadline=now + timedelta(days=3))
    _request(case, caseworker, "https://a.example/back", status=RequestStatus.REAPPEARED)
    _request(case, caseworker, "https://a.example/failed", status=RequestStatus.FAILED)
    _request(case, caseworker, "https://a.example/draft1")
    _request(case, caseworker, "https://a.example/draft2")
    # A colleague's case in the same centre, and a case of another centre: not this person's work.
    colleague = factories.make_user("caseworker", central, username="colleague")
    theirs = consenting_case(colleague)
    _request(theirs, colleague, "https://b.example/overdue", status=RequestStatus.SENT, deadline=now - timedelta(hours=1))
    elsewhere = factories.make_user("caseworker", region, username="busan_cw")
    far = consenting_case(elsewhere)
    _request(far, elsewhere, "https://c.example/overdue", status=RequestStatus.SENT, deadline=now - timedelta(hours=1))
    _request(far, elsewhere, "https://c.example/back", status=RequestStatus.REAPPEARED)
    return caseworker


def test_caseworker_sees_counts_of_their_own_work_only(busy_caseworker, client_for) -> None:
    html = client_for(busy_caseworker).get("/work/").content.decode()
    counts = _counts(html)
    assert counts["overdue"] == 1
    assert counts["deadline_soon"] == 1
    assert counts["reappeared"] == 1
    assert counts["failed"] == 1
    assert counts["drafts"] == 2
    assert "Deadlines passed" in html
    assert "Material back online" in html
    # Urgent items that have something waiting come first and are marked.
    first = re.search(r'<li class="work-item([^"]*)" data-work="([a-z_]+)"', html)
    assert first and "urgent" in first.group(1)
    assert first.group(2) in {"overdue", "reappeared", "failed", "unread_messages"}


def test_supervisor_sees_the_whole_centre_and_no_other(busy_caseworker, supervisor, client_for) -> None:
    counts = _counts(client_for(supervisor).get("/work/").content.decode())
    assert counts["overdue"] == 2  # their caseworkers' two, not Busan's
    assert counts["reappeared"] == 1
    assert "unassigned_cases" in counts


def test_other_centres_supervisor_sees_only_their_centre(busy_caseworker, other_supervisor, client_for) -> None:
    counts = _counts(client_for(other_supervisor).get("/work/").content.decode())
    assert counts["overdue"] == 1
    assert counts["reappeared"] == 1
    assert counts["drafts"] == 0


def test_each_count_links_to_the_same_items_in_the_list(busy_caseworker, client_for) -> None:
    client = client_for(busy_caseworker)
    html = client.get("/work/").content.decode()
    for key, expected in (("overdue", {"https://a.example/overdue"}), ("reappeared", {"https://a.example/back"}),
                          ("failed", {"https://a.example/failed"}), ("deadline_soon", {"https://a.example/soon"})):  # fmt: skip
        listing = client.get(_href(html, key))
        assert listing.status_code == 200
        shown = set(re.findall(r"https://[abc]\.example/[a-z0-9]+", listing.content.decode()))
        assert shown == expected, key


def test_nothing_waiting_says_so(caseworker, client_for) -> None:
    html = client_for(caseworker).get("/work/").content.decode()
    assert "Nothing is waiting for you right now." in html
    assert set(_counts(html).values()) == {0}


def test_sign_in_lands_on_my_work_and_other_roles_do_not_have_it(central, caseworker, supervisor, client_for) -> None:
    assert client_for(caseworker).get("/").url == "/work/"
    assert client_for(supervisor).get("/").url == "/work/"
    for role in ("analyst", "admin", "auditor"):
        assert client_for(factories.make_user(role, central)).get("/work/").status_code == 404


def test_korean(busy_caseworker, client_for) -> None:
    client = client_for(busy_caseworker)
    client.post("/i18n/setlang/", {"language": "ko", "next": "/work/"})
    html = client.get("/work/").content.decode()
    assert 'lang="ko"' in html
    assert "Deadlines passed" not in html
    assert _counts(html)["overdue"] == 1


def test_new_reports_and_unread_messages_follow_routing_and_reading(
    central, region, caseworker, other_supervisor, client_for
) -> None:
    from cases import intake

    busan = intake.intake_submit(intake.IntakeInput(description="routed to Busan", centre=region.code))[0]
    unrouted = intake.intake_submit(intake.IntakeInput(description="nobody chose"))[0]
    intake.intake_reply(report=busan, text="Is anyone there?")
    intake.intake_reply(report=unrouted, text="Please help")
    # The central centre triages unrouted reports: its caseworker sees one new report, one unread.
    central_counts = _counts(client_for(caseworker).get("/work/").content.decode())
    assert central_counts["new_reports"] == 1
    assert central_counts["unread_messages"] == 1
    busan_client = client_for(other_supervisor)
    html = busan_client.get("/work/").content.decode()
    assert _counts(html)["new_reports"] == 1
    assert _counts(html)["unread_messages"] == 1
    # The unread count links to the reports with unread messages; reading the thread clears it.
    listing = busan_client.get(_href(html, "unread_messages")).content.decode()
    assert f"/intake/{busan.pk}/" in listing
    assert f"/intake/{unrouted.pk}/" not in listing
    busan_client.get(f"/intake/{busan.pk}/")
    assert _counts(busan_client.get("/work/").content.decode())["unread_messages"] == 0
    assert _counts(client_for(caseworker).get("/work/").content.decode())["unread_messages"] == 1


def test_supervisor_sees_deletion_requests_waiting_for_a_decision(
    central, caseworker, supervisor, other_supervisor, client_for
) -> None:
    from cases import deletion

    case = factories.make_case(caseworker)
    deletion.deletion_request_file(case=case, acting_user=caseworker, note="asked on the phone")
    html = client_for(supervisor).get("/work/").content.decode()
    assert _counts(html)["deletion_requests"] == 1
    assert _href(html, "deletion_requests") == "/cases/deletion-requests/"
    # Another centre's supervisor has nothing to decide; caseworkers do not decide at all.
    assert _counts(client_for(other_supervisor).get("/work/").content.decode())["deletion_requests"] == 0
    assert "deletion_requests" not in _counts(client_for(caseworker).get("/work/").content.decode())
