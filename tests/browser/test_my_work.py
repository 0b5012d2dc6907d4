"""A caseworker starts the day on "My work": counts of what waits, each opening the list behind it,
in English and in Korean, on a laptop and on a phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from takedowns import services as takedown_services
from takedowns.models import RequestStatus, TakedownRequest
from tests import factories
from tests.browser.conftest import sign_in
from tests.takedowns.conftest import consenting_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _work(caseworker, region):
    from cases import intake

    now = timezone.now()
    case = consenting_case(caseworker)
    late = takedown_services.takedown_create(case=case, url="https://tube.example/watch/late", acting_user=caseworker)
    back = takedown_services.takedown_create(case=case, url="https://tube.example/watch/back", acting_user=caseworker)
    takedown_services.takedown_create(case=case, url="https://tube.example/watch/draft", acting_user=caseworker)
    # States a platform, a worker and days of waiting would reach; the page only reads them.
    TakedownRequest.objects.filter(pk=late.pk).update(status=RequestStatus.SENT, deadline=now - timedelta(hours=5))
    TakedownRequest.objects.filter(pk=back.pk).update(status=RequestStatus.REAPPEARED)
    report, _receipt = intake.intake_submit(intake.IntakeInput(description="please", urls=("https://tube.example/x",)))
    intake.intake_reply(report=report, text="Is there any news?")
    # Another centre's overdue request is not this caseworker's work.
    elsewhere = factories.make_user("caseworker", region, username="busanworker")
    far = takedown_services.takedown_create(
        case=consenting_case(elsewhere), url="https://tube.example/far", acting_user=elsewhere
    )
    TakedownRequest.objects.filter(pk=far.pk).update(status=RequestStatus.SENT, deadline=now - timedelta(hours=5))
    return case


def _count(page, key: str) -> str:
    return page.locator(f"[data-work={key}] .work-count").inner_text()


def test_my_work_in_english_then_korean(page, live_server, shoot, central, region, caseworker) -> None:
    _work(caseworker, region)
    sign_in(page, live_server, caseworker, factories.make_device(caseworker))
    page.wait_for_url("**/work/")
    assert page.get_by_role("heading", name="My work").is_visible()
    assert _count(page, "overdue") == "1"
    assert _count(page, "reappeared") == "1"
    assert _count(page, "drafts") == "1"
    assert _count(page, "new_reports") == "1"
    assert _count(page, "unread_messages") == "1"
    # What is late or back online comes first and is marked.
    assert page.locator(".work-item").first.get_attribute("class").split() == ["work-item", "urgent"]
    shoot(page, "80-my-work-en")

    page.locator("[data-work=overdue] a").click()
    page.wait_for_url("**/takedowns/?deadline=overdue*")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1
    assert "tube.example/watch/late" in rows.first.inner_text()
    shoot(page, "81-my-work-overdue-list-en")

    page.goto(f"{live_server.url}/work/")
    # The language menu sends itself on change (static/js/app.js), then the page comes back in Korean.
    with page.expect_navigation():
        page.locator("#lang-select").select_option("ko")
    assert page.get_by_role("heading", name="내 업무").is_visible()
    assert "처리 기한이 지난 요청" in page.locator("[data-work=overdue]").inner_text()
    assert _count(page, "overdue") == "1"
    shoot(page, "82-my-work-ko")

    # Reading the reporter's message clears its count.
    page.locator("[data-work=unread_messages] a").click()
    page.locator("main table tbody tr a").first.click()
    page.goto(f"{live_server.url}/work/")
    assert _count(page, "unread_messages") == "0"


def test_my_work_on_a_phone(phone_page, live_server, shoot, central, region, supervisor) -> None:
    worker = factories.make_user("caseworker", central, username="phoneworker")
    _work(worker, region)
    sign_in(phone_page, live_server, supervisor, factories.make_device(supervisor))
    phone_page.wait_for_url("**/work/")
    # A supervisor sees the whole centre, including work nobody is assigned to.
    assert _count(phone_page, "overdue") == "1"
    assert phone_page.locator("[data-work=unassigned_cases]").is_visible()
    # The cards stack in one column and nothing overflows the screen.
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shoot(phone_page, "83-my-work-phone-ko")
