"""In a real browser, the administrator's pages for accounts that were only tested by posting
forms: changing a person's role (a fresh code from the administrator's own authenticator, then the
account waits for approval and its open session ends) and the API tokens of service accounts
(listed with what they may do and when they were last used, revoked one at a time).
The rules themselves are tested in tests/security/test_account_approval.py and
tests/security/test_token_scopes.py; this shows what a person sees."""

from __future__ import annotations

import urllib.request
from urllib.error import HTTPError

import pytest

from core.api.scopes import SCOPES
from core.models import ApiToken, User
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _api_status(live_server, key: str) -> int:
    request = urllib.request.Request(f"{live_server.url}/api/v1/cases/", headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


def test_a_role_change_asks_for_a_fresh_code_and_the_account_waits_for_approval(
    page, browser, live_server, shoot, central, region, other_supervisor
) -> None:
    worker = factories.make_user("caseworker", region, username="minji")
    # The caseworker is at work in a browser of her own.
    context = browser.new_context(locale="en-GB")
    her_page = context.new_page()
    her_page.set_default_timeout(15000)
    sign_in(her_page, live_server, worker, factories.make_device(worker))
    her_page.goto(f"{live_server.url}/cases/")
    assert "/cases/" in her_page.url

    admin = factories.make_user("admin", central, username="hyejin")
    device = factories.make_device(admin)
    sign_in(page, live_server, admin, device)
    page.goto(f"{live_server.url}/staff/users/")
    page.locator("[data-testid=account-minji]").get_by_role("link", name="Change role or centre").click()
    page.wait_for_url(f"**/staff/users/{worker.pk}/change/")
    assert page.get_by_role("heading", name="Change role or centre of minji").is_visible()
    page.locator("#id_role").select_option("supervisor")

    # The code used to sign in does not count: nothing changes without a new one.
    page.get_by_role("button", name="Save").click()
    assert "Enter a new code from your authenticator app to change a role or centre." in page.locator("main").inner_text()
    worker.refresh_from_db()
    assert worker.role == "caseworker" and worker.is_active

    page.locator("#id_role").select_option("supervisor")
    page.locator("#id_code").fill(factories.totp_code(device, offset_steps=1))
    shoot(page, "account-01-role-change")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/staff/users/")
    assert "Account updated. It waits for approval by a supervisor of its centre." in page.locator(".messages").inner_text()
    row = page.locator("[data-testid=account-minji]").inner_text()
    assert "Supervisor" in row and "Waits for a supervisor's approval" in row
    shoot(page, "account-02-waiting")

    # Her open session ended with the change: the next page asks her to sign in.
    her_page.goto(f"{live_server.url}/cases/")
    assert "/accounts/login/" in her_page.url
    context.close()
    worker.refresh_from_db()
    assert worker.role == "supervisor" and not worker.is_active


def test_the_administrator_sees_a_service_token_used_and_revokes_it(page, live_server, shoot, central) -> None:
    feed = factories.service_twin(factories.make_user("caseworker", central, username="case-feed"))
    key = factories.issue_token(feed, name="nightly import", scopes=["cases:read"])
    token = ApiToken.objects.get(user=feed)
    admin = factories.make_user("admin", central, username="hyejin")
    sign_in(page, live_server, admin, factories.make_device(admin))

    page.goto(f"{live_server.url}/staff/users/")
    tokens = page.locator("#api-tokens")
    row = tokens.locator("tr", has_text="nightly import")
    assert f"{token.prefix}…" in row.inner_text()
    assert str(SCOPES["cases:read"]) in row.inner_text()
    assert "Never" in row.inner_text()
    assert key not in page.content()  # the key itself is never shown in a page

    assert _api_status(live_server, key) == 200
    page.reload()
    assert "Never" not in tokens.locator("tr", has_text="nightly import").inner_text()
    shoot(page, "account-03-token-used")

    tokens.get_by_role("button", name=f"Revoke {token.prefix}…").click()
    page.wait_for_url("**/staff/users/**")
    assert "Revoked" in page.locator("#api-tokens tr", has_text="nightly import").inner_text()
    assert page.locator("#api-tokens").get_by_role("button", name=f"Revoke {token.prefix}…").count() == 0
    shoot(page, "account-04-token-revoked")
    assert _api_status(live_server, key) == 401
    assert User.objects.get(pk=feed.pk).is_active  # the account stays; only that token ended
