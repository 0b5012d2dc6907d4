"""Threat: an API token that opens too much for too long, or that stands in for a person.

Before: a token had no scopes, no expiry and could not be revoked on its own (only by disabling
the whole account); any account, a person's too, could hold one, so a token copied from a
script was a password-and-code-free way into a caseworker's cases for ever.

Control: only service accounts hold tokens (core.services.api_token_issue refuses a person's
account; core.api.auth.ApiTokenAuthentication refuses a person's token made any other way).
Each token has scopes (core/api/scopes.py), enforced by core.api.permissions.TokenScope in
REST_FRAMEWORK's DEFAULT_PERMISSION_CLASSES and closed by default: a view that declares no
scope opens to no token. A token expires (API_TOKEN_TTL_DAYS, default 90) and gets a 401 that
says so; an administrator revokes one token at a time (the accounts page, or
manage.py revoke_api_token) and sees when each was last used.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from core import services
from core.errors import ServiceError
from core.models import ApiToken, AuditEvent, User
from tests import factories
from tests.pagetext import visible_text

pytestmark = pytest.mark.django_db

CASE = {
    "summary": "Deepfake spread in a chat room",
    "category": "deepfake",
    "victim": {"pseudonym": "A", "is_minor": False, "language": "ko"},
    "consent": {"takedown": True, "hash_sharing": False, "police_referral": False},
}


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _service(role: str = "caseworker", username: str = "police-system") -> User:
    return services.user_create(username=username, role=role, centre=factories.make_centre(central=True), is_service_account=True)


def _row(html: str, prefix: str) -> str:
    """The accounts page's table row of the token with this prefix."""
    return next(row for row in re.findall(r"<tr>.*?</tr>", html, flags=re.S) if prefix in row)


def _last_used(row: str) -> str:
    cells = re.findall(r"<td>(.*?)</td>", row, flags=re.S)
    return visible_text(cells[5]).strip()


def _issue(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    call_command("issue_api_token", *args)
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_a_persons_account_gets_no_token(caseworker) -> None:
    with pytest.raises(ServiceError):
        services.api_token_issue(user=caseworker, acting_user=None)
    assert not ApiToken.objects.filter(user=caseworker).exists()
    with pytest.raises(CommandError, match="person"):
        call_command("issue_api_token", "--username", caseworker.username, "--role", "caseworker")
    assert not ApiToken.objects.filter(user=caseworker).exists()


def test_a_persons_token_made_by_hand_is_refused(caseworker) -> None:
    """A token row for a person (left from before, or written straight into the database)."""
    key = "person-token-made-by-hand-0123456789abcdef"
    ApiToken.objects.create(
        user=caseworker,
        key_hash=services.hash_token(key),
        prefix=key[:8],
        scopes=["cases:read"],
        expires_at=timezone.now() + timedelta(days=1),
    )
    response = _client(key).get("/api/v1/cases/")
    assert response.status_code == 401
    assert "service account" in response.json()["detail"]


def test_a_scoped_token_reaches_only_its_scopes(capsys) -> None:
    # Two tokens of one account: a read-only one for a dashboard, a full one for the importer.
    reader = _client(_issue(capsys, "--username", "police", "--role", "caseworker", "--scope", "cases:read"))
    full = _client(_issue(capsys, "--username", "police", "--role", "caseworker", "--name", "importer"))
    created = full.post("/api/v1/cases/", CASE, format="json")
    assert created.status_code == 201
    case_id = created.json()["id"]

    assert reader.get("/api/v1/cases/").status_code == 200
    assert reader.get(f"/api/v1/cases/{case_id}/").status_code == 200
    refused = reader.post("/api/v1/cases/", CASE, format="json")
    assert refused.status_code == 403
    assert "cases:write" in refused.json()["detail"]
    assert reader.get(f"/api/v1/cases/{case_id}/evidence/").status_code == 403
    assert reader.get("/api/v1/takedowns/").status_code == 403
    # The token issued without --scope has everything a caseworker's role allows.
    assert set(ApiToken.objects.get(name="importer").scopes) >= {"cases:write", "evidence:write", "match"}


def test_a_scope_outside_the_role_is_refused_at_issue(capsys) -> None:
    _issue(capsys, "--username", "analyst-bot", "--role", "analyst", "--scope", "compliance:read", "--name", "figures")
    assert ApiToken.objects.get(user__username="analyst-bot").scopes == ["compliance:read"]
    with pytest.raises(CommandError, match="does not allow: compliance:read"):
        call_command("issue_api_token", "--username", "cw-bot", "--role", "caseworker", "--scope", "compliance:read")
    # Nothing half made: the account was not created either.
    assert not User.objects.filter(username="cw-bot").exists()


def test_a_view_without_a_declared_scope_opens_to_no_token() -> None:
    """Closed by default: every API view a token could reach declares its scope; the public ones
    (intake) take no authentication at all."""
    from core.api.permissions import TokenScope, required_scope

    missing = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            view = getattr(pattern.callback, "view_class", None)
            route = prefix + str(pattern.pattern)
            if view is None or not route.startswith("api/v1/"):
                continue
            if view.authentication_classes == []:
                continue
            assert any(isinstance(p, TokenScope) for p in view().get_permissions()), route
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if hasattr(view, method.lower()) and required_scope(view, method) is None:
                    missing.append(f"{method} {route}")

    walk(get_resolver().url_patterns)
    assert missing == []

    class Undeclared:
        pass

    token = ApiToken(scopes=["cases:read"])
    request = type("R", (), {"auth": token, "user": User(role="caseworker"), "method": "GET"})()
    assert TokenScope().has_permission(request, Undeclared()) is False  # type: ignore[arg-type]


def test_an_expired_token_gets_401_with_a_clear_message(capsys) -> None:
    key = _issue(capsys, "--username", "short-lived", "--role", "caseworker", "--expires-days", "1")
    client = _client(key)
    assert client.get("/api/v1/cases/").status_code == 200
    token = ApiToken.objects.get(user__username="short-lived")
    assert (token.expires_at - timezone.now()) < timedelta(days=1, minutes=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/cases/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_tokens_expire_after_90_days_by_default(capsys) -> None:
    _issue(capsys, "--username", "default-life", "--role", "caseworker")
    token = ApiToken.objects.get(user__username="default-life")
    assert timedelta(days=89, hours=23) < token.expires_at - token.created_at <= timedelta(days=90, minutes=1)


def test_revoking_one_token_keeps_the_others_working(capsys) -> None:
    first = _issue(capsys, "--username", "two-tokens", "--role", "caseworker", "--name", "nightly import")
    second = _issue(capsys, "--username", "two-tokens", "--role", "caseworker", "--name", "dashboard")
    call_command("revoke_api_token", first[:8])
    assert f"Revoked {first[:8]}" in capsys.readouterr().out
    assert _client(first).get("/api/v1/cases/").status_code == 401
    assert _client(second).get("/api/v1/cases/").status_code == 200
    assert AuditEvent.objects.filter(action="api_token.revoke", details__prefix=first[:8]).exists()

    call_command("list_api_tokens", "--username", "two-tokens")
    listed = capsys.readouterr().out
    assert second[:8] in listed and "dashboard" in listed
    assert first[:8] not in listed
    call_command("list_api_tokens", "--all")
    assert "revoked" in capsys.readouterr().out


def test_the_accounts_page_shows_last_use_and_revokes_one_token(client_for, supervisor, capsys) -> None:
    admin = factories.make_user("admin", factories.make_centre(central=True), username="the-admin")
    used = _issue(capsys, "--username", "partner-feed", "--role", "partner", "--name", "hash feed")
    unused = _issue(capsys, "--username", "partner-feed", "--role", "partner", "--name", "spare")
    assert _client(used).get("/api/v1/hashlist/").status_code == 200

    page: Client = client_for(admin)
    html = page.get("/staff/users/").content.decode()
    rows = {key: _row(html, key[:8]) for key in (used, unused)}
    assert "hash feed" in rows[used] and "spare" in rows[unused]
    assert "Pull the shared hash list and send feedback" in rows[used]
    assert _last_used(rows[used]) == timezone.localtime(ApiToken.objects.get(prefix=used[:8]).last_used_at).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert _last_used(rows[unused]) == "Never"

    spare = ApiToken.objects.get(prefix=unused[:8])
    # Only an administrator revokes.
    assert client_for(supervisor).post(f"/staff/tokens/{spare.pk}/revoke/").status_code == 404
    assert _client(unused).get("/api/v1/hashlist/").status_code == 200
    response = page.post(f"/staff/tokens/{spare.pk}/revoke/")
    assert response.status_code == 302
    spare.refresh_from_db()
    assert spare.revoked_at is not None and spare.revoked_by == admin
    assert _client(unused).get("/api/v1/hashlist/").status_code == 401
    assert _client(used).get("/api/v1/hashlist/").status_code == 200
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor_username == admin.username


def test_a_default_token_of_a_role_without_cases_answers_as_the_contract_says(capsys) -> None:
    """Scopes narrow, they never change what a caller learns: an analyst's token lists no case and
    gets the same 404 for a real case of another account as for one that does not exist (a 403 for
    the one that exists would reveal it)."""
    owner = _client(_issue(capsys, "--username", "police", "--role", "caseworker"))
    case_id = owner.post("/api/v1/cases/", CASE, format="json").json()["id"]
    analyst = _client(_issue(capsys, "--username", "figures-bot", "--role", "analyst"))
    listed = analyst.get("/api/v1/cases/")
    assert listed.status_code == 200
    assert case_id not in [
        row["id"] for row in (listed.json().get("results", listed.json()) if isinstance(listed.json(), dict) else listed.json())
    ]
    assert analyst.get(f"/api/v1/cases/{case_id}/").status_code == 404
    assert analyst.get("/api/v1/cases/99999999/").status_code == 404
    assert analyst.post("/api/v1/cases/", CASE, format="json").status_code == 403
