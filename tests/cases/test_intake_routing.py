"""Routing of public reports: a report routed to a centre is its staff's alone, an unrouted one
the triage centre's, and once a case is opened the case's own rules decide. Everything else
answers 404, on the pages and in the API, exactly as a report that does not exist."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cases import intake
from cases.models import DeletionRequest, IntakeReport
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _report(**extra) -> tuple[IntakeReport, str]:
    response = APIClient().post(
        "/api/v1/intake/", {"description": "Pictures of me in a group chat.", "urls": ["https://chat.example/r/1"], **extra},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    receipt = response.json()["receipt"]
    report = intake.intake_find(receipt)
    assert report is not None
    return report, receipt


@pytest.fixture
def people(central, region):
    return {
        "central_cw": factories.make_user("caseworker", central, username="central_cw"),
        "central_sup": factories.make_user("supervisor", central, username="central_sup"),
        "busan_cw": factories.make_user("caseworker", region, username="busan_cw"),
        "busan_cw2": factories.make_user("caseworker", region, username="busan_cw2"),
        "busan_sup": factories.make_user("supervisor", region, username="busan_sup"),
        "analyst": factories.make_user("analyst", central, username="central_analyst"),
    }


def _sees(client_for, api_for, user, report: IntakeReport) -> bool:
    """Whether the person sees the report, on the page, in the queue and in the API (all agree)."""
    page = client_for(user).get(f"/intake/{report.pk}/")
    api = api_for(user)
    detail = api.get(f"/api/v1/intake/reports/{report.pk}/")
    listed = str(report.pk) in [r["id"] for r in api.get("/api/v1/intake/reports/").json()]
    report.refresh_from_db()
    queue = f'data-report="{report.pk}"' in client_for(user).get(f"/intake/?status={report.status}").content.decode()
    assert {page.status_code, detail.status_code} <= {200, 404}
    answers = {page.status_code == 200, detail.status_code == 200, listed, queue}
    assert len(answers) == 1, (user.username, page.status_code, detail.status_code, listed, queue)
    return answers.pop()


def test_a_routed_report_is_only_its_centres(people, client_for, api_for) -> None:
    report, _ = _report(centre="busan")
    assert report.centre.code == "busan"
    assert _sees(client_for, api_for, people["busan_cw"], report)
    assert _sees(client_for, api_for, people["busan_sup"], report)
    assert not _sees(client_for, api_for, people["central_cw"], report)
    assert not _sees(client_for, api_for, people["central_sup"], report)
    # The same 404 as a report that does not exist, in the API too.
    missing = api_for(people["central_cw"]).get("/api/v1/intake/reports/999999/")
    hidden = api_for(people["central_cw"]).get(f"/api/v1/intake/reports/{report.pk}/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    # Nor can the other centre act on it.
    assert api_for(people["central_cw"]).post(f"/api/v1/intake/reports/{report.pk}/messages/", {"text": "hi"}).status_code == 404
    assert api_for(people["central_cw"]).post(f"/api/v1/intake/reports/{report.pk}/case/", {}).status_code == 404
    assert client_for(people["central_cw"]).post(f"/intake/{report.pk}/", {"action": "message", "text": "x"}).status_code == 404


def test_roles_without_casework_see_no_report(people, client_for, api_for) -> None:
    report, _ = _report()
    assert client_for(people["analyst"]).get(f"/intake/{report.pk}/").status_code == 404
    assert api_for(people["analyst"]).get(f"/api/v1/intake/reports/{report.pk}/").status_code == 404
    assert api_for(people["analyst"]).get("/api/v1/intake/reports/").json() == []


def test_an_unrouted_report_is_the_triage_centres_who_route_it(people, client_for, api_for) -> None:
    report, _ = _report()
    assert report.centre is None
    assert _sees(client_for, api_for, people["central_cw"], report)
    assert not _sees(client_for, api_for, people["busan_cw"], report)
    page = client_for(people["central_cw"]).get(f"/intake/{report.pk}/").content.decode()
    assert "Not routed yet" in page and 'data-testid="route-form"' in page

    response = client_for(people["central_cw"]).post(f"/intake/{report.pk}/", {"action": "route", "centre": "busan"})
    assert response.status_code == 302 and response["Location"] == "/intake/"
    report.refresh_from_db()
    assert report.centre.code == "busan"
    assert AuditEvent.objects.filter(action="intake.routed", object_id=str(report.pk), actor_username="central_cw").exists()
    assert _sees(client_for, api_for, people["busan_cw"], report)
    assert not _sees(client_for, api_for, people["central_cw"], report)

    # Busan passes it back through the API; an unknown centre is refused in words.
    bad = api_for(people["busan_sup"]).post(f"/api/v1/intake/reports/{report.pk}/route/", {"centre": "nowhere"})
    assert bad.status_code == 400 and "centre" in str(bad.json()).lower()
    ok = api_for(people["busan_sup"]).post(f"/api/v1/intake/reports/{report.pk}/route/", {"centre": "central"})
    assert ok.status_code == 200 and ok.json()["centre"] == "central"


def test_the_triage_centre_is_a_setting(people, client_for, api_for, settings) -> None:
    settings.INTAKE_TRIAGE_CENTRE = "busan"
    report, _ = _report()
    assert _sees(client_for, api_for, people["busan_cw"], report)
    assert not _sees(client_for, api_for, people["central_cw"], report)


def test_after_a_case_is_opened_the_case_rules_apply(people, client_for, api_for) -> None:
    report, _ = _report(centre="busan")
    opened = api_for(people["busan_cw"]).post(f"/api/v1/intake/reports/{report.pk}/case/", {"pseudonym": "Reed"})
    assert opened.status_code == 201
    assert set(opened.json()) >= {"id", "reference"}
    report.refresh_from_db()
    # The caseworker who opened it and their supervisor; not a colleague with no part in the
    # case (as for the case itself), not the other centre.
    assert _sees(client_for, api_for, people["busan_cw"], report)
    assert _sees(client_for, api_for, people["busan_sup"], report)
    assert not _sees(client_for, api_for, people["busan_cw2"], report)
    assert not _sees(client_for, api_for, people["central_sup"], report)
    again = api_for(people["busan_cw"]).post(f"/api/v1/intake/reports/{report.pk}/case/", {})
    assert again.status_code == 409
    # No re-routing once a case owns it.
    refused = api_for(people["busan_sup"]).post(f"/api/v1/intake/reports/{report.pk}/route/", {"centre": "central"})
    assert refused.status_code == 400


def test_the_deletion_queue_follows_the_routing(people, client_for) -> None:
    routed, _ = _report(centre="busan")
    unrouted, _ = _report()
    intake.intake_request_deletion(report=routed)
    intake.intake_request_deletion(report=unrouted)
    busan_queue = client_for(people["busan_sup"]).get("/cases/deletion-requests/").content.decode()
    central_queue = client_for(people["central_sup"]).get("/cases/deletion-requests/").content.decode()
    routed_request = DeletionRequest.objects.get(report=routed)
    unrouted_request = DeletionRequest.objects.get(report=unrouted)
    assert f"/cases/deletion-requests/{routed_request.pk}/decide/" in busan_queue
    assert f"/cases/deletion-requests/{unrouted_request.pk}/decide/" not in busan_queue
    assert f"/cases/deletion-requests/{unrouted_request.pk}/decide/" in central_queue
    assert f"/cases/deletion-requests/{routed_request.pk}/decide/" not in central_queue
    refused = client_for(people["central_sup"]).post(
        f"/cases/deletion-requests/{routed_request.pk}/decide/", {"action": "approve"}
    )
    assert refused.status_code == 404


# INTAKE_TRIAGE_CENTRE naming no centre: warned about, never silent --------------------------------


def test_the_system_check_warns_when_the_triage_centre_setting_names_no_centre(central, region, settings) -> None:
    from io import StringIO

    from django.core.management import call_command

    from cases.checks import triage_centre_setting

    settings.INTAKE_TRIAGE_CENTRE = "busna"  # a typo for busan
    warnings = triage_centre_setting()
    assert [w.id for w in warnings] == ["cases.W001"] and "'busna'" in warnings[0].msg
    out = StringIO()
    call_command("check", stdout=out, stderr=out)  # a warning does not stop `manage.py check`
    assert "cases.W001" in out.getvalue() and "busna" in out.getvalue()

    settings.INTAKE_TRIAGE_CENTRE = "busan"
    assert triage_centre_setting() == []
    settings.INTAKE_TRIAGE_CENTRE = ""
    assert triage_centre_setting() == []


def test_the_system_check_says_nothing_before_the_database_is_migrated(central, settings) -> None:
    from django.db import connection

    from cases.checks import triage_centre_setting

    settings.INTAKE_TRIAGE_CENTRE = "nowhere"
    with connection.cursor() as cursor:  # as before the first migrate: no centre table (rolled back after the test)
        cursor.execute("ALTER TABLE core_centre RENAME TO core_centre_not_yet")
    assert triage_centre_setting() == []
    # ... and the failed query did not break the transaction it ran in.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_centre_not_yet RENAME TO core_centre")
    assert [w.id for w in triage_centre_setting()] == ["cases.W001"]


def test_the_triage_supervisors_see_a_warning_when_the_setting_names_no_centre(people, client_for, settings) -> None:
    settings.INTAKE_TRIAGE_CENTRE = "busna"
    _report()  # unrouted: the central centre triages it, as the fallback says
    marker = 'data-testid="triage-setting-warning"'
    page = client_for(people["central_sup"]).get("/intake/").content.decode()
    assert marker in page and "busna" in page
    assert marker in client_for(people["central_sup"]).get("/intake/?unread=1").content.decode()
    # Only the supervisors who carry the fallback queue: not caseworkers, not another centre.
    assert marker not in client_for(people["central_cw"]).get("/intake/").content.decode()
    assert marker not in client_for(people["busan_sup"]).get("/intake/").content.decode()
    settings.INTAKE_TRIAGE_CENTRE = "busan"
    busan = client_for(people["busan_sup"]).get("/intake/").content.decode()
    central = client_for(people["central_sup"]).get("/intake/").content.decode()
    assert marker not in busan and marker not in central
