"""In a real browser: an administrator invites a caseworker (no password anywhere on the page), the
person sets their own password and authenticator from the e-mailed link, waits, and can work once
a supervisor of their centre approves them (tests/security/test_admin_credentials.py and
test_account_approval.py test the rules; this shows the pages a person uses)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import User
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "a-long-passphrase-of-my-own-93"


def test_invite_accept_enrol_approve(page, browser, live_server, shoot, central, region) -> None:
    admin = factories.make_user("admin", central, username="hyejin")
    supervisor = factories.make_user("supervisor", region, username="sup_busan", email="sup_busan@example.org")
    sign_in(page, live_server, admin, factories.make_device(admin))
    page.goto(f"{live_server.url}/staff/users/")
    assert page.locator("input[type=password]").count() == 0
    page.locator("#id_username").fill("dahye")
    page.locator("#id_email").fill("dahye@example.org")
    page.locator("#id_role").select_option("caseworker")
    page.locator("#id_centre").select_option(str(region.pk))
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_url("**/staff/users/")
    shoot(page, "invite-01-sent")
    assert "Waits for a supervisor's approval" in page.locator("[data-testid=account-dahye]").inner_text()

    invitation = next(m for m in mail.outbox if m.to == ["dahye@example.org"])
    assert any(supervisor.email in m.to for m in mail.outbox)
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+)", invitation.body).group(1)

    # The person, in their own browser.
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    person = context.new_page()
    person.set_default_timeout(15000)
    person.goto(f"{live_server.url}{link}")
    assert "/accounts/invitation/" in person.url and link not in person.url
    person.locator("#id_new_password1").fill(PASSWORD)
    person.locator("#id_new_password2").fill(PASSWORD)
    shoot(person, "invite-02-password")
    person.get_by_role("button", name="Save password and continue").click()
    person.wait_for_url("**/accounts/enrol/**")
    shoot(person, "invite-03-enrol")
    dahye = User.objects.get(username="dahye")
    device = TOTPDevice.objects.get(user=dahye, confirmed=False)
    person.locator("#id_code").fill(factories.totp_code(device))
    person.get_by_role("button", name="Confirm and sign in").click()
    person.get_by_text("waits for approval by a supervisor of your centre").wait_for()
    shoot(person, "invite-04-waiting")

    # The link is used up.
    person.goto(f"{live_server.url}{link}")
    assert person.get_by_role("heading", name="This link does not work").is_visible()

    # The region's supervisor approves from their own page.
    page.context.clear_cookies()
    sign_in(page, live_server, supervisor, factories.make_device(supervisor))
    page.goto(f"{live_server.url}/staff/approvals/")
    shoot(page, "invite-05-approvals")
    page.locator("[data-testid=pending-dahye]").get_by_role("button", name="Approve").click()
    page.wait_for_url("**/staff/approvals/")
    assert page.locator("[data-testid=pending-dahye]").count() == 0

    device.refresh_from_db()
    dahye.refresh_from_db()
    assert dahye.is_active
    person.goto(f"{live_server.url}/accounts/login/")
    person.locator("#id_username").fill("dahye")
    person.locator("#id_password").fill(PASSWORD)
    person.locator("main form button[type=submit]").click()
    person.wait_for_url("**/accounts/verify/**")
    person.locator("#id_code").fill(factories.totp_code(device, offset_steps=1))
    person.locator("main form button[type=submit]").click()
    person.wait_for_url("**/work/")
    context.close()
