"""Victims and staff talk both ways, in a real browser: a reporter on a phone (Korean) starts from
the landing page, chooses a centre and writes from the status page; that centre's caseworker
(English) sees the unread badge, reads and replies; the other centre (Korean) sees nothing; the
reporter reads the reply. Then the routed triage queue seen from two centres' accounts.
Screenshots: 60- to 69-."""

from __future__ import annotations

import pytest

from cases import intake
from cases.models import IntakeReport
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _staff_page(browser, live_server, user, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    sign_in(page, live_server, user, factories.make_device(user))
    page.wait_for_load_state()
    return context, page


def _status(page, live_server, receipt: str) -> None:
    page.goto(f"{live_server.url}/report/status/")
    page.locator("#id_receipt").fill(receipt)
    page.locator("main button[type=submit]").last.click()
    page.locator("#messages").wait_for()


def test_message_thread_between_a_reporter_and_the_chosen_centre(browser, live_server, shoot, central, region) -> None:
    busan_cw = factories.make_user("caseworker", region, username="jiwoo")
    central_cw = factories.make_user("caseworker", central, username="hana")

    # The reporter, on a phone in Korean, starts from the landing page.
    phone = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    victim = phone.new_page()
    victim.set_default_timeout(15000)
    landing = victim.goto(f"{live_server.url}/")
    assert landing is not None and landing.status == 200 and not phone.cookies()
    assert victim.get_by_role("link", name="투명성 보고서 보기").is_visible()
    assert victim.get_by_role("link", name="접수 코드로 내 신고 확인하기").is_visible()
    shoot(victim, "60-landing-ko")
    victim.get_by_role("link", name="지금 겪고 있는 일 신고하기").click()
    victim.locator("#id_description").fill("부산에 사는데 합성 사진이 단톡방에 퍼지고 있어요.")
    victim.locator("#id_centre").select_option(label="busan centre")
    victim.locator("main form button[type=submit]").last.click()
    receipt = victim.get_by_test_id("receipt").inner_text().strip()
    report = IntakeReport.objects.get()
    assert report.centre == region

    _status(victim, live_server, receipt)
    victim.locator("#reply-text").fill("오늘 또 다른 방에 올라왔어요. 전화는 어렵고 여기로 연락 주세요.")
    victim.get_by_role("button", name="메시지 보내기").click()
    victim.locator("[data-testid=thread]").wait_for()
    assert "오늘 또 다른 방에 올라왔어요" in victim.locator("[data-testid=thread]").inner_text()
    shoot(victim, "61-status-message-sent-ko")

    # The chosen centre's caseworker, in English: the badge in the navigation, then the thread.
    ctx, page = _staff_page(browser, live_server, busan_cw, "en-GB")
    badge = page.get_by_test_id("nav-unread")
    assert badge.inner_text().strip().startswith("1")
    shoot(page, "62-staff-nav-unread-en")
    badge.click()
    page.get_by_role("link", name=str(report.pk), exact=True).click()
    thread = page.get_by_test_id("staff-thread")
    assert "오늘 또 다른 방에 올라왔어요" in thread.inner_text() and "Reporter" in thread.inner_text()
    page.locator(f"#t-msg-{report.pk}").fill("Thank you. We have asked the platform to remove the new room's copy.")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    assert "Message sent" in page.content()
    assert page.get_by_test_id("nav-unread").count() == 0  # read by this person now
    shoot(page, "63-staff-thread-reply-en")
    ctx.close()

    # The other centre, in Korean: not in its queue, and the address answers 404.
    ctx, page = _staff_page(browser, live_server, central_cw, "ko-KR")
    page.goto(f"{live_server.url}/intake/")
    assert f'data-report="{report.pk}"' not in page.content()
    assert page.get_by_test_id("nav-unread").count() == 0
    shoot(page, "64-other-centre-queue-ko")
    hidden = page.goto(f"{live_server.url}/intake/{report.pk}/")
    assert hidden is not None and hidden.status == 404
    ctx.close()

    # The reporter reads the reply on the status page.
    _status(victim, live_server, receipt)
    thread_text = victim.locator("[data-testid=thread]").inner_text()
    assert "Thank you. We have asked the platform" in thread_text and "센터" in thread_text
    shoot(victim, "65-status-reply-seen-ko")
    phone.close()


def test_routed_triage_queue_seen_from_two_centres(browser, live_server, shoot, central, region) -> None:
    central_sup = factories.make_user("supervisor", central, username="seoyeon")
    busan_cw = factories.make_user("caseworker", region, username="minho")
    report, _receipt = intake.intake_submit(intake.IntakeInput(description="어디에 신고해야 할지 모르겠어요.", language="ko"))

    # The triage centre (Korean) sees the unrouted report and routes it to Busan.
    ctx, page = _staff_page(browser, live_server, central_sup, "ko-KR")
    page.goto(f"{live_server.url}/intake/")
    row = page.locator(f"tr[data-report='{report.pk}']")
    assert "아직 배정되지 않음" in row.inner_text()
    shoot(page, "66-triage-queue-unrouted-ko")
    row.get_by_role("link", name=str(report.pk), exact=True).click()
    page.locator("#t-centre").select_option(label="busan centre")
    page.get_by_role("button", name="이 센터로 배정").click()
    page.wait_for_load_state()
    assert "신고를 busan centre(으)로 전달했습니다." in page.content()
    assert page.locator(f"tr[data-report='{report.pk}']").count() == 0
    shoot(page, "67-triage-routed-away-ko")
    ctx.close()

    # Busan (English) now has it, with its centre named.
    ctx, page = _staff_page(browser, live_server, busan_cw, "en-GB")
    page.goto(f"{live_server.url}/intake/")
    row = page.locator(f"tr[data-report='{report.pk}']")
    assert "busan centre" in row.inner_text()
    assert "You see the reports routed to your centre." in page.content()
    shoot(page, "68-triage-queue-busan-en")
    row.get_by_role("link", name=str(report.pk), exact=True).click()
    assert page.get_by_test_id("report-centre").inner_text().strip() == "busan centre"
    assert "Korean" in page.content()  # the reporter's language by name, never "ko"
    shoot(page, "69-triage-detail-busan-en")
    ctx.close()


def test_the_form_error_summary_takes_the_focus_and_leads_to_each_field(page, live_server, shoot) -> None:
    page.goto(f"{live_server.url}/report/?lang=en")
    page.locator("#id_description").fill("Someone shares my photos.")
    page.locator("#id_contact_email").fill("not an address")
    page.locator("main form button[type=submit]").last.click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert "E-mail (optional)" in summary.inner_text()
    shoot(page, "70-form-error-summary-en")
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "id_contact_email"
    assert not IntakeReport.objects.exists()
