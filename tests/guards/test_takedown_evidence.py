"""Guard: a takedown request links only evidence of its own case
(takedowns.services._case_evidence, used by takedown_create and takedown_bulk_create; on the case
page the form also offers only the case's own evidence).

Real evidence of another case is tried, in the same centre and in another centre, through the
API and through the case page; an id that exists nowhere would be refused by any lookup and
would not show that the case is checked.
"""

from __future__ import annotations

import pytest

from takedowns.models import TakedownRequest
from tests import factories
from tests.evidence.helpers import add_image
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db(transaction=True)  # evidence is stored outside a transaction


@pytest.fixture
def cases(caseworker, region, tmp_path):
    """This case with its evidence, another case of the same caseworker, one of another centre."""
    mine = consenting_case(caseworker)
    sibling = consenting_case(caseworker)
    busan_worker = factories.make_user("caseworker", region, username="cw_busan_guard")
    foreign = consenting_case(busan_worker)
    return {
        "case": mine,
        "own": add_image(mine, caseworker, tmp_path, seed=1),
        "same_centre": add_image(sibling, caseworker, tmp_path, seed=2),
        "other_centre": add_image(foreign, busan_worker, tmp_path, seed=3),
    }


@pytest.mark.parametrize("whose", ["same_centre", "other_centre"])
def test_the_api_refuses_evidence_of_another_case(cases, whose, caseworker, api_for) -> None:
    case, stranger = cases["case"], cases[whose]
    api = api_for(caseworker)
    response = api.post(
        "/api/v1/takedowns/", {"case": case.pk, "url": "https://host.example/v/1", "evidence": [stranger.pk]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "same case" in str(response.json())
    # Mixed with the case's own evidence: still refused, nothing half made.
    response = api.post(
        "/api/v1/takedowns/",
        {"case": case.pk, "url": "https://host.example/v/1", "evidence": [cases["own"].pk, stranger.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert not TakedownRequest.objects.filter(case=case).exists()
    assert not TakedownRequest.evidence.through.objects.filter(evidence_id=stranger.pk).exists()

    # The case's own evidence is linked.
    response = api.post(
        "/api/v1/takedowns/", {"case": case.pk, "url": "https://host.example/v/1", "evidence": [cases["own"].pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["evidence"] == [str(cases["own"].pk)]


@pytest.mark.parametrize("whose", ["same_centre", "other_centre"])
def test_the_case_page_refuses_evidence_of_another_case(cases, whose, caseworker, client_for) -> None:
    case, stranger = cases["case"], cases[whose]
    page = client_for(caseworker)
    page.post(f"/takedowns/case/{case.pk}/bulk/", {"bulk-urls": "https://host.example/p/1", "bulk-evidence": [str(stranger.pk)]})
    assert not TakedownRequest.objects.filter(case=case).exists()
    assert not TakedownRequest.evidence.through.objects.filter(evidence_id=stranger.pk).exists()

    page.post(
        f"/takedowns/case/{case.pk}/bulk/", {"bulk-urls": "https://host.example/p/1", "bulk-evidence": [str(cases["own"].pk)]}
    )
    made = TakedownRequest.objects.get(case=case)
    assert list(made.evidence.values_list("pk", flat=True)) == [cases["own"].pk]


@pytest.mark.parametrize("whose", ["same_centre", "other_centre"])
def test_the_service_refuses_evidence_of_another_case(cases, whose, caseworker) -> None:
    """The page's form offers only the case's evidence; the service must refuse on its own too,
    for every caller that is not that form (bulk entry from elsewhere, the API, the matcher)."""
    from core.errors import ServiceError
    from takedowns import services

    case, stranger = cases["case"], cases[whose]
    with pytest.raises(ServiceError, match="same case"):
        services.takedown_bulk_create(
            case=case, urls=["https://host.example/s/1"], acting_user=caseworker, evidence_ids=[stranger.pk]
        )
    assert not TakedownRequest.objects.filter(case=case).exists()
