"""The cases part of ../shared/contracts/api-v1.md."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from cases.models import Case, Victim
from core.models import AuditEvent, User
from tests import factories

pytestmark = pytest.mark.django_db

BODY = {
    "summary": "Deepfake images posted in a chat room",
    "category": "deepfake",
    "victim": {"pseudonym": "Magpie", "is_minor": False, "language": "ko"},
    "consent": {"takedown": True, "hash_sharing": False, "police_referral": False},
}


def test_create_case_answers_the_contract(caseworker, api_for) -> None:
    response = api_for(caseworker).post("/api/v1/cases/", BODY, format="json")
    assert response.status_code == 201
    data = response.json()
    assert {"id", "reference", "status"} <= data.keys()
    assert re.fullmatch(r"KR-\d{4}-\d{6}", data["reference"])
    assert data["status"] == "new"
    assert data["consent"] == {"takedown": True, "hash_sharing": False, "police_referral": False, "legal_support": None}
    detail = api_for(caseworker).get(f"/api/v1/cases/{data['id']}/").json()
    assert detail["reference"] == data["reference"]
    assert detail["victim"] == {"pseudonym": "Magpie", "is_minor": False, "language": "ko"}


def test_minor_makes_the_case_urgent(caseworker, api_for) -> None:
    body = {**BODY, "victim": {**BODY["victim"], "is_minor": True}}
    assert api_for(caseworker).post("/api/v1/cases/", body, format="json").json()["priority"] == "urgent"


def test_references_are_unique_and_sequential(caseworker, api_for) -> None:
    api = api_for(caseworker)
    refs = [api.post("/api/v1/cases/", BODY, format="json").json()["reference"] for _ in range(3)]
    numbers = [int(r.rsplit("-", 1)[1]) for r in refs]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "category": "nonsense"}, "category"),
        ({**BODY, "victim": {"is_minor": False}}, "victim"),
        ({**BODY, "victim": "not an object"}, "victim"),
        ({**BODY, "consent": {"takedown": "perhaps"}}, "consent"),
        ({**BODY, "summary": "x" * 20001}, "summary"),
    ],
)
def test_bad_input_gets_a_clear_400_and_leaves_nothing(caseworker, api_for, body, field) -> None:
    api = api_for(caseworker)
    cases, victims, events = Case.objects.count(), Victim.objects.count(), AuditEvent.objects.count()
    response = api.post("/api/v1/cases/", body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert field in data["errors"]
    assert data["detail"].startswith("The request is not valid")
    assert (Case.objects.count(), Victim.objects.count(), AuditEvent.objects.count()) == (cases, victims, events)


def test_malformed_json_and_wrong_media_type(caseworker, api_for) -> None:
    api = api_for(caseworker)
    response = api.post("/api/v1/cases/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    response = api.post("/api/v1/cases/", data="<xml/>", content_type="application/xml")
    assert response.status_code == 415


def test_no_token_or_forged_token_is_refused(db) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.get("/api/v1/cases/").status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION="Token forged-token-value")
    response = client.get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json()["detail"] == "The token is not valid."


def test_issue_api_token_command_creates_account_and_prints_token_last(db, capsys) -> None:
    call_command("issue_api_token", "--username", "police-system", "--role", "caseworker")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    user = User.objects.get(username="police-system")
    assert user.is_service_account
    assert user.role == "caseworker"
    assert not user.has_usable_password()
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post("/api/v1/cases/", BODY, format="json")
    assert response.status_code == 201
    assert client.get(f"/api/v1/cases/{response.json()['id']}/").status_code == 200
    # Running it again gives a second, different token and can change the role.
    call_command("issue_api_token", "--username", "police-system", "--role", "analyst")
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert second != key
    user.refresh_from_db()
    assert user.role == "analyst"


def test_issue_api_token_refuses_a_persons_account(caseworker) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("issue_api_token", "--username", caseworker.username, "--role", "caseworker")


def test_tokens_are_stored_only_as_hashes(caseworker) -> None:
    key = factories.issue_token(caseworker)
    from core.models import ApiToken

    token = ApiToken.objects.get(prefix=key[:8])
    assert key not in (token.key_hash, token.prefix)
    assert len(token.key_hash) == 64


def test_patch_changes_status_and_records_consent(caseworker, api_for) -> None:
    api = api_for(caseworker)
    case_id = api.post("/api/v1/cases/", BODY, format="json").json()["id"]
    response = api.patch(f"/api/v1/cases/{case_id}/", {"status": "open", "is_spreading": True}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "open"
    assert response.json()["priority"] == "urgent"
    response = api.post(
        f"/api/v1/cases/{case_id}/consent/", {"kind": "takedown", "granted": False, "method": "phone"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["consent"]["takedown"] is False


def test_put_and_delete_are_not_allowed(caseworker, api_for) -> None:
    api = api_for(caseworker)
    case_id = api.post("/api/v1/cases/", BODY, format="json").json()["id"]
    assert api.put(f"/api/v1/cases/{case_id}/", BODY, format="json").status_code == 405
    assert api.delete(f"/api/v1/cases/{case_id}/").status_code == 405
    assert Case.objects.filter(pk=case_id).exists()


def test_openapi_schema_describes_the_cases_api(db, client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    import json

    schema = json.loads(response.content) if response["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/cases/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/cases/"]
    assert "/api/v1/cases/{id}/" in schema["paths"]
