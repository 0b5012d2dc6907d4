"""Nothing is sent by mistake: approving exactly the chosen drafts, on the page and in the API."""

from __future__ import annotations

import pytest

from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests import factories
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def drafts(caseworker, sim_platform):
    case = consenting_case(caseworker)
    made = [services.takedown_create(case=case, url=f"http://127.0.0.1/s/{i}", acting_user=caseworker) for i in range(4)]
    return case, made


def _statuses(case) -> list[str]:
    return sorted(TakedownRequest.objects.filter(case=case).values_list("status", flat=True))


# The API (contract v1.1) ------------------------------------------------------------------------


def test_api_queues_exactly_the_given_ids(drafts, caseworker, api_for) -> None:
    case, made = drafts
    response = api_for(caseworker).post(
        f"/api/v1/cases/{case.pk}/takedowns/send/", {"ids": [made[0].pk, made[2].pk]}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["queued"] == 2
    assert set(Notice.objects.values_list("request_id", flat=True)) == {made[0].pk, made[2].pk}
    assert _statuses(case) == ["draft", "draft", "queued", "queued"]


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"all": False}, {"ids": [], "all": False}])
def test_api_nothing_chosen_is_400_and_queues_nothing(drafts, caseworker, api_for, body) -> None:
    case, _made = drafts
    response = api_for(caseworker).post(f"/api/v1/cases/{case.pk}/takedowns/send/", body, format="json")
    assert response.status_code == 400
    assert "Nothing was selected" in str(response.json())
    assert not Notice.objects.exists()
    assert _statuses(case) == ["draft"] * 4


def test_api_all_queues_every_draft_with_a_platform(drafts, caseworker, api_for) -> None:
    case, _made = drafts
    unknown = services.takedown_create(case=case, url="https://nowhere.example/x", acting_user=caseworker)
    response = api_for(caseworker).post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    assert response.status_code == 202
    assert response.json()["queued"] == 4
    unknown.refresh_from_db()
    assert unknown.status == "draft"
    assert Notice.objects.count() == 4


def test_api_ids_of_another_case_are_refused_and_nothing_is_queued(drafts, caseworker, api_for) -> None:
    case, made = drafts
    other = consenting_case(caseworker)
    foreign = services.takedown_create(case=other, url="http://127.0.0.1/other/1", acting_user=caseworker)
    response = api_for(caseworker).post(
        f"/api/v1/cases/{case.pk}/takedowns/send/", {"ids": [made[0].pk, foreign.pk]}, format="json"
    )
    assert response.status_code == 400
    assert f"#{foreign.pk}" in response.json()["detail"]
    assert "Nothing was approved" in response.json()["detail"]
    assert not Notice.objects.exists()  # not even made[0]: no half-made approvals
    assert _statuses(case) == ["draft"] * 4


def test_api_an_id_that_is_not_a_draft_any_more_refuses_the_whole_choice(drafts, caseworker, api_for) -> None:
    case, made = drafts
    services.takedown_approve(requests=[made[0]], acting_user=caseworker)
    response = api_for(caseworker).post(
        f"/api/v1/cases/{case.pk}/takedowns/send/", {"ids": [made[0].pk, made[1].pk]}, format="json"
    )
    assert response.status_code == 409
    assert Notice.objects.count() == 1
    assert TakedownRequest.objects.get(pk=made[1].pk).status == "draft"


def test_api_another_centres_case_is_404(drafts, other_supervisor, api_for) -> None:
    case, made = drafts
    api = api_for(other_supervisor)
    for body in ({"ids": [made[0].pk]}, {"all": True}):
        response = api.post(f"/api/v1/cases/{case.pk}/takedowns/send/", body, format="json")
        assert response.status_code == 404
    assert api.post("/api/v1/cases/999999/takedowns/send/", {"all": True}, format="json").status_code == 404
    assert not Notice.objects.exists()


def test_api_same_centre_caseworker_without_the_case_gets_404(drafts, caseworker_b, api_for) -> None:
    case, _made = drafts
    response = api_for(caseworker_b).post(f"/api/v1/cases/{case.pk}/takedowns/send/", {"all": True}, format="json")
    assert response.status_code == 404
    assert not Notice.objects.exists()


# The case page ------------------------------------------------------------------------------------


def test_page_approve_selected_with_nothing_selected_approves_nothing_and_says_so(drafts, caseworker, client_for) -> None:
    case, _made = drafts
    page = client_for(caseworker)
    response = page.post(f"/takedowns/case/{case.pk}/approve/", {"scope": "chosen"}, follow=True)
    assert response.status_code == 200
    assert "Nothing was selected" in response.content.decode()
    assert not Notice.objects.exists()
    assert _statuses(case) == ["draft"] * 4


def test_page_approve_selected_approves_only_those(drafts, caseworker, client_for) -> None:
    case, made = drafts
    page = client_for(caseworker)
    response = page.post(f"/takedowns/case/{case.pk}/approve/", {"scope": "chosen", "requests": [str(made[1].pk)]}, follow=True)
    assert "1 notices approved and queued." in response.content.decode()
    assert list(Notice.objects.values_list("request_id", flat=True)) == [made[1].pk]


def test_page_approve_all_states_the_count_and_asks_to_confirm(drafts, caseworker, client_for) -> None:
    case, _made = drafts
    page = client_for(caseworker)
    panel = page.get(f"/cases/{case.pk}/").content.decode()
    assert "Approve all 4 drafts" in panel
    # The old button posted scope=all straight away; now it only leads to the confirmation.
    response = page.post(f"/takedowns/case/{case.pk}/approve/", {"scope": "all"}, follow=True)
    assert "Approve all 4 drafts of this case and send their notices?" in response.content.decode()
    assert not Notice.objects.exists()
    confirm = page.get(f"/takedowns/case/{case.pk}/approve-all/")
    assert 'name="expected" value="4"' in confirm.content.decode()
    # A draft added meanwhile: the confirmation of "4" is not taken for 5; the page asks again.
    services.takedown_create(case=case, url="http://127.0.0.1/s/late", acting_user=caseworker)
    again = page.post(f"/takedowns/case/{case.pk}/approve-all/", {"expected": "4"}, follow=True).content.decode()
    assert "The number of drafts changed" in again
    assert "Approve all 5 drafts of this case" in again
    assert not Notice.objects.exists()
    done = page.post(f"/takedowns/case/{case.pk}/approve-all/", {"expected": "5"}, follow=True)
    assert "5 notices approved and queued." in done.content.decode()
    assert _statuses(case) == ["queued"] * 5


def test_page_approve_all_of_another_centres_case_is_404(drafts, other_supervisor, client_for) -> None:
    case, _made = drafts
    page = client_for(other_supervisor)
    assert page.get(f"/takedowns/case/{case.pk}/approve-all/").status_code == 404
    assert page.post(f"/takedowns/case/{case.pk}/approve-all/", {"expected": "4"}).status_code == 404
    assert page.post(f"/takedowns/case/{case.pk}/approve/", {"scope": "chosen"}).status_code == 404
    assert not Notice.objects.exists()


def test_page_ids_of_another_case_in_the_form_approve_nothing(drafts, caseworker, client_for) -> None:
    case, made = drafts
    other = factories.make_case(caseworker, consent={"takedown": True})
    foreign = services.takedown_create(case=other, url="http://127.0.0.1/other/2", acting_user=caseworker)
    response = client_for(caseworker).post(
        f"/takedowns/case/{case.pk}/approve/", {"scope": "chosen", "requests": [str(made[0].pk), str(foreign.pk)]},
        follow=True,
    )  # fmt: skip
    assert "not takedown requests of this case" in response.content.decode()
    assert not Notice.objects.exists()


def test_a_reporter_reads_unavailable_in_words(caseworker, sim_platform) -> None:
    from takedowns.intake_hooks import progress

    case = consenting_case(caseworker)
    request = services.takedown_create(case=case, url="http://127.0.0.1/gone/1", acting_user=caseworker)
    TakedownRequest.objects.filter(pk=request.pk).update(status="unavailable")
    assert progress([request.pk]) == {request.pk: "Already gone when we checked; no notice was needed"}
