"""Reads of takedown requests, pinned where mutation testing (`make mutate`) found them loose:
takedowns.selectors.duplicate_labels and request_get, seen on the pages and the API.

Threat: a caseworker following a duplicate is sent to the wrong request, or shown another
centre's case reference; an outside program asking for a request it may not see cannot tell a
refusal from a fault.
Control: a duplicate of a request in a case the person may open names that request and its case
reference, with a link; one in a case they may not open says only "another case". Another
centre's request answers 404 with the same words as one that does not exist.
"""

from __future__ import annotations

import pytest

from takedowns import services
from takedowns.models import TakedownRequest
from tests.pagetext import visible_text
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def video_site(db):
    return services.platform_create(
        acting_user=None, name="Video site", domains=["video.example"], channel="email", email="abuse@video.example"
    )


def _lead_and_follow(first_user, second_user, url: str) -> tuple[TakedownRequest, TakedownRequest]:
    leader = services.takedown_create(case=consenting_case(first_user), url=url, acting_user=first_user)
    services.takedown_approve(requests=[leader], acting_user=first_user)
    follower = services.takedown_create(case=consenting_case(second_user), url=url, acting_user=second_user)
    assert follower.duplicate_of_id == leader.pk
    return leader, follower


def test_a_duplicate_in_a_case_i_may_open_links_to_that_request(caseworker, supervisor, video_site, client_for) -> None:
    leader, follower = _lead_and_follow(supervisor, caseworker, "https://video.example/v/1")
    # The caseworker's supervisor's case is of the same centre; the supervisor sees both cases.
    page = client_for(supervisor)
    html = page.get(f"/takedowns/{follower.pk}/").content.decode()
    text = visible_text(html)
    assert f"Duplicate of request #{leader.pk} ({leader.case.reference})." in text
    assert f'href="/takedowns/{leader.pk}/"' in html
    listed = page.get(f"/cases/{follower.case_id}/").content.decode()
    assert f"Duplicate of request #{leader.pk}" in visible_text(listed)
    assert f'<a href="/takedowns/{leader.pk}/">{leader.case.reference}</a>' in listed


def test_a_duplicate_in_another_centres_case_names_nothing_of_it(caseworker, other_supervisor, video_site, client_for) -> None:
    leader, follower = _lead_and_follow(other_supervisor, caseworker, "https://video.example/v/2")
    html = client_for(caseworker).get(f"/takedowns/{follower.pk}/").content.decode()
    assert "Duplicate: already handled by a request in another case." in visible_text(html)
    assert leader.case.reference not in html and f"/takedowns/{leader.pk}/" not in html


def test_another_centres_request_answers_like_a_missing_one(caseworker, other_supervisor, video_site, api_for) -> None:
    theirs = services.takedown_create(
        case=consenting_case(other_supervisor), url="https://video.example/v/3", acting_user=other_supervisor
    )
    api = api_for(caseworker)
    refused, missing = api.get(f"/api/v1/takedowns/{theirs.pk}/"), api.get(f"/api/v1/takedowns/{theirs.pk + 1000}/")
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json() == {"detail": "Takedown request not found."}
