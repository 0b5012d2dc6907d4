"""Threat: a list, page, CSV, export or API hands one centre's case data to another centre.

Every endpoint that returns case data, tried with accounts (caseworker and supervisor) of another
centre: each answers 404, or a list without the other centre's case reference, victim pseudonym,
material address or watched page. The same endpoints with the case's own centre's accounts do show
them, so no check here passes by showing nothing to anyone.

Control: every read goes through cases.selectors.cases_visible_to (cases_visible_to, case_get,
intake_reports_visible_to), evidence.selectors.evidence_visible_to and
takedowns.selectors.requests_visible_to; compliance rows through compliance.drilldown_for and
address_for (takedowns/compliance.py); the watchlist page counts only visible hits.

On the code before this change, the compliance drill-down, its CSV and the regulator report failed
here (they listed every centre's addresses); the other endpoints were already scoped, and these
tests keep them so.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases import intake
from evidence import services as evidence_services
from takedowns import rollup, services
from takedowns.matching import reset_process_index
from takedowns.models import Notice, TakedownRequest
from takedowns.watchlists import watchlist_create
from tests import factories, media

pytestmark = pytest.mark.django_db(transaction=True)  # evidence is stored outside a transaction

SECRET_URL = "https://alpha.example/centre-a-only-page"
WATCHED = "https://watch.example/centre-a-watched-channel"
PSEUDONYM = "Pseudonym Kestrel"
TODAY = timezone.localdate()
PERIOD = {"since": (TODAY - timedelta(days=30)).isoformat(), "until": (TODAY + timedelta(days=1)).isoformat()}


@pytest.fixture(autouse=True)
def fresh_index(settings):
    settings.MATCH_INDEX_MAX_AGE_S = 0
    reset_process_index()
    yield
    reset_process_index()


@pytest.fixture
def world(central, region, tmp_path):
    platform = services.platform_create(
        acting_user=None, name="Alpha", domains=["alpha.example"], channel="manual", web_form_url="https://alpha.example/report"
    )
    cw_a = factories.make_user("caseworker", central, username="cw_centre_a")
    case_a = factories.make_case(cw_a, victim={"pseudonym": PSEUDONYM, "is_minor": False, "language": "ko"})
    path = tmp_path / "a.jpg"
    image = media.image_bytes("JPEG", seed=411, size=(800, 600))
    path.write_bytes(image)
    evidence = evidence_services.evidence_add(
        case=case_a, incoming=evidence_services.IncomingFile(path=path, name="a.jpg"), acting_user=cw_a
    )
    request = services.takedown_create(case=case_a, url=SECRET_URL, acting_user=cw_a)
    sent = timezone.now() - timedelta(days=2)
    TakedownRequest.objects.filter(pk=request.pk).update(sent_at=sent, deadline=sent + timedelta(hours=24), status="sent")
    Notice.objects.create(request=request, kind="initial", channel="manual", body="notice", status="manual")
    rollup.refresh()
    watchlist_create(url=WATCHED, acting_user=cw_a, case=case_a, interval_minutes=60)
    response = APIClient().post(
        "/api/v1/intake/", {"description": "Centre A report.", "urls": ["https://chat.example/centre-a-intake"],
                            "centre": central.code}, format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    report = intake.intake_find(response.json()["receipt"])
    assert report is not None and report.centre_id == central.pk
    return {
        "platform": platform, "case": case_a, "request": request, "evidence": evidence, "image": image, "report": report,
        "a": {"caseworker": cw_a, "supervisor": factories.make_user("supervisor", central, username="sup_centre_a")},
        "b": {"caseworker": factories.make_user("caseworker", region, username="cw_centre_b"),
              "supervisor": factories.make_user("supervisor", region, username="sup_centre_b")},
    }  # fmt: skip


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8-sig", errors="replace")
    return response.content.decode("utf-8", errors="replace")


# (name, roles that use it, how to call it): each returns (status, body).
def _endpoints(world):
    case, request, report = world["case"], world["request"], world["report"]

    def match(api):
        upload = io.BytesIO(world["image"])
        upload.name = "found.jpg"
        return api.post("/api/v1/match/", {"file": upload}, format="multipart")

    case_roles = ("caseworker", "supervisor")
    return [
        ("case list page", case_roles, lambda c, a: c.get("/cases/")),
        ("case list API", case_roles, lambda c, a: a.get("/api/v1/cases/")),
        ("case page", case_roles, lambda c, a: c.get(f"/cases/{case.pk}/")),
        ("takedown list page", case_roles, lambda c, a: c.get("/takedowns/")),
        ("takedown CSV export", case_roles, lambda c, a: c.get("/takedowns/export.csv")),
        ("takedown list API", case_roles, lambda c, a: a.get("/api/v1/takedowns/")),
        ("case takedowns API", case_roles, lambda c, a: a.get(f"/api/v1/cases/{case.pk}/takedowns/")),
        ("takedown API", case_roles, lambda c, a: a.get(f"/api/v1/takedowns/{request.pk}/")),
        ("takedown page", case_roles, lambda c, a: c.get(f"/takedowns/{request.pk}/")),
        ("manual queue", case_roles, lambda c, a: c.get("/takedowns/manual/")),
        ("case evidence API", case_roles, lambda c, a: a.get(f"/api/v1/cases/{case.pk}/evidence/")),
        ("evidence API", case_roles, lambda c, a: a.get(f"/api/v1/evidence/{world['evidence'].pk}/")),
        ("evidence export", case_roles, lambda c, a: c.post(f"/evidence/case/{case.pk}/export/", {"reason": "court"})),
        ("match API", case_roles, lambda c, a: match(a)),
        ("watchlists page", case_roles, lambda c, a: c.get("/takedowns/watchlists/")),
        ("intake list page", case_roles, lambda c, a: c.get("/intake/")),
        ("intake list API", case_roles, lambda c, a: a.get("/api/v1/intake/reports/")),
        ("intake report API", case_roles, lambda c, a: a.get(f"/api/v1/intake/reports/{report.pk}/")),
        ("workload page", case_roles, lambda c, a: c.get("/compliance/workload/")),
        ("compliance drill-down", case_roles, lambda c, a: c.get("/compliance/requests/", PERIOD)),
        ("compliance drill-down CSV", case_roles, lambda c, a: c.get("/compliance/requests/", {**PERIOD, "format": "csv"})),
        ("regulator report", case_roles, lambda c, a: c.get(f"/compliance/platform/{world['platform'].pk}/report/", PERIOD)),
    ]  # fmt: skip


def _call(world, name, user, client_for, api_for):
    for endpoint, roles, call in _endpoints(world):
        if endpoint == name:
            if user.role not in roles:
                return None
            response = call(client_for(user), api_for(user))
            return response.status_code, _body(response)
    raise AssertionError(name)


def _secrets(world) -> list[str]:
    return [
        world["case"].reference, PSEUDONYM, "centre-a-only-page", "centre-a-watched-channel", "centre-a-intake",
        f'"case":"{world["case"].pk}"', f'"evidence":"{world["evidence"].pk}"', world["a"]["caseworker"].username,
        f'data-report="{world["report"].pk}"',
    ]  # fmt: skip


def test_another_centres_accounts_get_nothing_of_ours(world, client_for, api_for) -> None:
    # One world, every endpoint and role in turn (a world per endpoint would cost minutes); the
    # message names each leak.
    problems = []
    for role, user in world["b"].items():
        for name, _roles, _call_it in _endpoints(world):
            answer = _call(world, name, user, client_for, api_for)
            if answer is None:
                continue  # not an endpoint of this role
            status, body = answer
            if status not in (200, 404):
                problems.append((role, name, status))
            elif status == 200:
                leaked = [s for s in _secrets(world) if s in body.replace(" ", "")]
                if leaked:
                    problems.append((role, name, leaked))
    assert problems == []


def test_the_cases_own_supervisor_does_see_it(world, client_for, api_for) -> None:
    """The control for the test above: the same endpoints show the case data to its own centre."""
    blind = []
    for name, _roles, _call_it in _endpoints(world):
        status, body = _call(world, name, world["a"]["supervisor"], client_for, api_for)
        if name == "evidence export":
            # Answers with the package, or sends the person back to give a fresh code: never a 404.
            if status not in (200, 302):
                blind.append((name, status))
        elif status != 200 or not any(s in body.replace(" ", "") for s in _secrets(world)):
            blind.append((name, status))
    assert blind == []
