"""Caseworker A cannot see, list, edit or guess caseworker B's case; nor can another centre's
supervisor. "Missing" and "not yours" answer the same 404, on every page and endpoint."""

from __future__ import annotations

import pytest

from cases.models import Case, Referral
from tests import factories

pytestmark = pytest.mark.django_db

PAGES_GET = ["/cases/{id}/", "/cases/{id}/edit/"]
PAGES_POST = [
    ("/cases/{id}/identity/", {}),
    ("/cases/{id}/consent/", {"consent-kind": "takedown", "consent-granted": "yes", "consent-method": "phone"}),
    ("/cases/{id}/notes/", {"note-text": "hello"}),
    ("/cases/{id}/status/", {"status-status": "closed"}),
    ("/cases/{id}/assign/", {"assign-assigned_to": ""}),
    ("/cases/{id}/referrals/", {"referral-kind": "counselling"}),
    (
        "/cases/{id}/edit/",
        {"category": "other", "priority": "normal", "pseudonym": "x", "language": "ko", "safe_contact_channel": "none"},
    ),
]


@pytest.fixture
def b_case(caseworker_b: factories.User) -> Case:
    return factories.make_case(caseworker_b, summary="B's case")


def _outsiders(caseworker, other_supervisor):
    return {"caseworker A": caseworker, "other centre's supervisor": other_supervisor}


def _unchanged(case: Case) -> None:
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.status == case.status
    assert fresh.category == case.category
    assert fresh.events.filter(kind="note").count() == 0
    assert not fresh.consents.exists()
    assert not Referral.objects.filter(case=fresh).exists()


def test_owner_and_their_supervisor_can_see_it(b_case, caseworker_b, supervisor, client_for, api_for) -> None:
    for user in (caseworker_b, supervisor):
        assert client_for(user).get(f"/cases/{b_case.pk}/").status_code == 200
        assert f'href="/cases/{b_case.pk}/"' in client_for(user).get("/cases/").content.decode()
        assert api_for(user).get(f"/api/v1/cases/{b_case.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["caseworker A", "other centre's supervisor"])
def test_pages_answer_404_for_not_yours_and_missing(who, b_case, caseworker, other_supervisor, client_for) -> None:
    user = _outsiders(caseworker, other_supervisor)[who]
    client = client_for(user)
    missing = Case.objects.order_by("-pk").first().pk + 1000
    for template in PAGES_GET:
        for target in (b_case.pk, missing):
            assert client.get(template.format(id=target)).status_code == 404, (template, target)
    for template, data in PAGES_POST:
        for target in (b_case.pk, missing):
            assert client.post(template.format(id=target), data).status_code == 404, (template, target)
    for query in ({}, {"q": b_case.reference}):
        listing = client.get("/cases/", query).content.decode()
        assert f'href="/cases/{b_case.pk}/"' not in listing
        assert b_case.victim.pseudonym not in listing
    _unchanged(b_case)


@pytest.mark.parametrize("who", ["caseworker A", "other centre's supervisor"])
def test_api_answers_404_for_not_yours_and_missing(who, b_case, caseworker, other_supervisor, api_for) -> None:
    api = api_for(_outsiders(caseworker, other_supervisor)[who])
    missing = Case.objects.order_by("-pk").first().pk + 1000
    for target in (b_case.pk, missing, "not-a-number"):
        get = api.get(f"/api/v1/cases/{target}/")
        assert get.status_code == 404
        assert get.json() == {"detail": "Not found."} or get.json()["detail"] == "Case not found."
        assert api.patch(f"/api/v1/cases/{target}/", {"status": "closed"}, format="json").status_code == 404
        assert (
            api.post(f"/api/v1/cases/{target}/consent/", {"kind": "takedown", "granted": True}, format="json").status_code == 404
        )
    listed = api.get("/api/v1/cases/").json()
    assert b_case.reference not in [c["reference"] for c in listed["results"]]
    _unchanged(b_case)


def test_missing_and_not_yours_look_exactly_the_same(b_case, caseworker, api_for) -> None:
    api = api_for(caseworker)
    missing = Case.objects.order_by("-pk").first().pk + 1000
    a = api.get(f"/api/v1/cases/{b_case.pk}/")
    b = api.get(f"/api/v1/cases/{missing}/")
    assert (a.status_code, a.json()) == (b.status_code, b.json())


def test_other_centre_supervisor_cannot_assign_or_be_assigned(b_case, supervisor, other_supervisor, client_for) -> None:
    client = client_for(supervisor)
    response = client.post(f"/cases/{b_case.pk}/assign/", {"assign-assigned_to": str(other_supervisor.pk)}, follow=True)
    assert response.status_code == 200
    b_case.refresh_from_db()
    assert b_case.assigned_to_id != other_supervisor.pk


@pytest.mark.parametrize("role", ["analyst", "admin", "auditor"])
def test_roles_without_casework_see_no_cases(role, b_case, central, client_for, api_for) -> None:
    user = factories.make_user(role, central)
    assert client_for(user).get(f"/cases/{b_case.pk}/").status_code == 404
    assert client_for(user).get("/cases/").status_code == 404
    assert api_for(user).get(f"/api/v1/cases/{b_case.pk}/").status_code == 404
    assert api_for(user).get("/api/v1/cases/").json()["results"] == []
    response = api_for(user).post("/api/v1/cases/", {"category": "other", "victim": {"pseudonym": "x"}}, format="json")
    assert response.status_code == 403


def test_referral_of_another_case_cannot_be_reached_through_mine(caseworker, caseworker_b, client_for) -> None:
    mine = factories.make_case(caseworker)
    theirs = factories.make_case(caseworker_b)
    from cases import services

    referral = services.referral_create(case=theirs, kind="counselling", acting_user=caseworker_b)
    response = client_for(caseworker).post(f"/cases/{mine.pk}/referrals/{referral.pk}/status/", {"status": "closed"})
    assert response.status_code == 404
    referral.refresh_from_db()
    assert referral.status == "proposed"
