"""`manage.py issue_api_token --centre CODE` (contract v1.1): the account works for that centre."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from core.models import AuditEvent, Centre, User

pytestmark = pytest.mark.django_db

CASE = {
    "summary": "Deepfake spread in a chat room",
    "category": "deepfake",
    "victim": {"pseudonym": "A", "is_minor": False, "language": "ko"},
    "consent": {"takedown": True, "hash_sharing": False, "police_referral": False},
}


def _issue(capsys, *args: str) -> tuple[list[str], APIClient]:
    call_command("issue_api_token", *args)
    lines = capsys.readouterr().out.strip().splitlines()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {lines[-1]}")
    return lines, client


def test_a_new_centre_is_created_and_the_account_works_only_for_it(capsys) -> None:
    lines, busan = _issue(capsys, "--username", "busan-police", "--role", "caseworker", "--centre", "busan")
    assert lines[:2] == ["Created centre busan.", "Created service account busan-police (caseworker) in centre busan."]
    centre = Centre.objects.get(code="busan")
    assert not centre.is_central
    assert User.objects.get(username="busan-police").centre == centre

    created = busan.post("/api/v1/cases/", CASE, format="json")
    assert created.status_code == 201
    case_id = created.json()["id"]
    assert busan.get(f"/api/v1/cases/{case_id}/").status_code == 200

    # Without --centre: the default (central) centre, which does not see Busan's case.
    lines, central = _issue(capsys, "--username", "central-system", "--role", "caseworker")
    assert lines[0] == "Created service account central-system (caseworker) in centre central."
    assert User.objects.get(username="central-system").centre.is_central
    assert central.get(f"/api/v1/cases/{case_id}/").status_code == 404
    assert [c["id"] for c in busan.get("/api/v1/cases/").json()["results"]] == [case_id]
    assert central.get("/api/v1/cases/").json()["results"] == []


def test_an_existing_centre_is_reused_and_an_existing_account_moved(capsys) -> None:
    _issue(capsys, "--username", "svc", "--role", "caseworker", "--centre", "daegu")
    lines, _client = _issue(capsys, "--username", "svc", "--role", "caseworker", "--centre", "Daegu")
    assert lines[0] != "Created centre daegu."  # the same centre, found by its code
    assert Centre.objects.filter(code="daegu").count() == 1

    lines, client = _issue(capsys, "--username", "svc", "--role", "caseworker", "--centre", "gwangju")
    assert "Moved svc to centre gwangju." in lines
    assert User.objects.get(username="svc").centre.code == "gwangju"
    moved = AuditEvent.objects.get(action="user.centre_change")
    assert moved.details == {"from": "daegu", "to": "gwangju"}
    assert client.post("/api/v1/cases/", CASE, format="json").status_code == 201


@pytest.mark.parametrize("code", ["no spaces", "x" * 33, "../etc"])
def test_a_bad_centre_code_is_refused_and_nothing_is_made(code: str) -> None:
    with pytest.raises(CommandError, match="Centre code"):
        call_command("issue_api_token", "--username", "svc-bad", "--role", "caseworker", "--centre", code)
    assert not User.objects.filter(username="svc-bad").exists()
    assert not Centre.objects.exclude(is_central=True).exists()


def test_a_centre_code_is_kept_as_written_and_found_whatever_its_case(capsys) -> None:
    _lines, upper = _issue(capsys, "--username", "daegu-desk", "--role", "caseworker", "--centre", "DAEGU")
    centre = Centre.objects.get(code="DAEGU")
    _lines, lower = _issue(capsys, "--username", "daegu-desk-2", "--role", "supervisor", "--centre", "daegu")
    assert User.objects.get(username="daegu-desk-2").centre == centre
    assert Centre.objects.filter(code__iexact="daegu").count() == 1
    # A reporter choosing the centre in either case reaches its staff, who see the code as written.
    public = APIClient()
    for code in ("DAEGU", "daegu"):
        assert (
            public.post("/api/v1/intake/", {"description": "help", "urls": [], "centre": code}, format="json").status_code == 201
        )
    reports = upper.get("/api/v1/intake/reports/").json()
    assert len(reports) == 2
    assert {r["centre"] for r in reports} == {"DAEGU"}
    assert len(lower.get("/api/v1/intake/reports/").json()) == 2
