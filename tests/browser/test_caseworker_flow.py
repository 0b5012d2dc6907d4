"""A caseworker signs in with a TOTP code, opens a case, records consent, switches to Korean and
finds the case in the list. Screenshots of the main pages are saved in tests/artifacts/screenshots/."""

from __future__ import annotations

import pytest

from cases.models import Case
from cases.selectors import has_consent
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_caseworker_opens_a_case_records_consent_and_finds_it_in_korean(page, live_server, shoot, central) -> None:
    caseworker = factories.make_user("caseworker", central, username="minseo")
    device = factories.make_device(caseworker)
    factories.make_case(caseworker, victim={"pseudonym": "Existing Heron"})

    sign_in(page, live_server, caseworker, device, shoot)
    page.wait_for_url("**/work/")
    assert page.get_by_role("heading", name="My work").is_visible()
    assert page.locator("[data-work=clear]").inner_text() == "Nothing is waiting for you right now."

    page.get_by_role("link", name="New case").first.click()
    page.get_by_label("Category").select_option("deepfake")
    page.get_by_label("What happened").fill("Synthetic images made from a class photo, posted in a chat room.")
    page.get_by_label("Pseudonym").fill("Gentle Crane")
    page.get_by_label("Is the victim under 18?").select_option("True")  # yes, no, or not known
    shoot(page, "03-case-form")
    page.get_by_role("button", name="Open case").click()
    page.wait_for_url("**/cases/*/")
    case = Case.objects.get(victim__pseudonym="Gentle Crane")
    assert case.priority == "urgent"
    assert page.get_by_role("heading", name=case.reference).is_visible()

    page.get_by_text("Record consent").click()
    consent = page.locator("#consent")
    consent.get_by_label("Consent").select_option("takedown")
    consent.get_by_role("radio", name="Given").check()
    consent.get_by_label("How it was given").select_option("phone")
    consent.get_by_role("button", name="Record").click()
    page.wait_for_url("**/cases/*/")
    assert page.get_by_text("Consent recorded.").is_visible()
    assert "Given" in page.locator('[data-consent="takedown"]').inner_text()
    assert has_consent(case, "takedown")
    shoot(page, "04-case-detail")

    # Switch to Korean with the language menu; the choice sticks across pages.
    with page.expect_navigation():
        page.get_by_label("Language").select_option("ko")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.goto(f"{live_server.url}/cases/")
    assert page.get_by_role("heading", name="사건").first.is_visible()
    page.get_by_label("사건 번호 또는 가명 검색").fill("Gentle")
    page.get_by_role("button", name="검색").click()
    row = page.locator("table.cases tbody tr")
    assert row.count() == 1
    assert case.reference in row.first.inner_text()
    shoot(page, "05-case-list-ko")

    page.get_by_role("link", name=case.reference).click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert page.get_by_role("heading", name="진행 경과").is_visible()
    shoot(page, "06-case-detail-ko")


def test_password_alone_goes_nowhere_and_pages_fit_a_phone(phone_page, live_server, shoot, central) -> None:
    page = phone_page
    caseworker = factories.make_user("caseworker", central, username="jiwoo")
    factories.make_device(caseworker)
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_username").fill(caseworker.username)
    page.locator("#id_password").fill(factories.PASSWORD)
    page.locator("button[type=submit]").last.click()
    page.wait_for_url("**/accounts/verify/**")
    shoot(page, "07-verify-phone-ko")
    page.goto(f"{live_server.url}/cases/")
    assert "/accounts/login/" in page.url
    # Nothing wider than the phone's screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_enrolment_page_shows_a_scannable_qr_code(page, live_server, shoot, central) -> None:
    import re

    from django.core import mail

    from core import accounts

    # Enrolment is reached only through the e-mailed invitation (tests/browser/test_invitation_flow.py).
    newcomer = accounts.user_invite(
        username="newcomer", role="supervisor", centre=central, email="newcomer@example.org", acting_user=None
    )
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+)", mail.outbox[-1].body).group(1)
    page.goto(f"{live_server.url}{link}")
    page.locator("#id_new_password1").fill("a-long-passphrase-of-my-own-93")
    page.locator("#id_new_password2").fill("a-long-passphrase-of-my-own-93")
    page.get_by_role("button", name="Save password and continue").click()
    page.wait_for_url("**/accounts/enrol/**")
    box = page.locator(".qr svg").bounding_box()
    assert box is not None
    assert box["width"] >= 150
    shoot(page, "08-enrol")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=newcomer)
    page.get_by_label("6-digit code from your authenticator app").fill(factories.totp_code(device))
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_url("**/work/")
    device.refresh_from_db()
    assert device.confirmed


def test_auditor_sees_the_log(page, live_server, shoot, central) -> None:
    auditor = factories.make_user("auditor", central, username="auditor1")
    device = factories.make_device(auditor)
    factories.make_case(factories.make_user("caseworker", central))
    sign_in(page, live_server, auditor, device)
    page.wait_for_url("**/audit/")
    assert page.locator("td span[data-action='case.create']").first.inner_text() == "Case opened"
    page.get_by_role("button", name="Check the chain now").click()
    assert "The check has started." in page.locator(".messages").inner_text()
    assert page.locator("[data-chain=running]").is_visible()
    shoot(page, "09-audit-log")
