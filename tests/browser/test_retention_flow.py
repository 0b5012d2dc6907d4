"""Data lifecycle in a real browser: a reporter asks for deletion on a phone, a supervisor sets a
legal hold on a case and approves the reporter's request, the reporter sees the outcome; an admin
sees failed work. Screenshots: 33- to 37-."""

from __future__ import annotations

import pytest

from cases import intake
from cases.deletion import deletion_request_carry_out
from cases.models import DeletionRequest
from core.models import TaskFailure
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_reporter_asks_for_deletion_supervisor_approves_reporter_sees_it_done(
    browser, live_server, shoot, central, caseworker
) -> None:
    _report, receipt = intake.intake_submit(intake.IntakeInput(description="지워 주세요", urls=("https://forum.example/p/7",)))
    phone = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844}, is_mobile=True)
    victim = phone.new_page()
    victim.set_default_timeout(15000)
    victim.goto(f"{live_server.url}/report/status/")
    victim.locator("#id_receipt").fill(receipt)
    victim.locator("button[type=submit]").last.click()
    victim.locator("summary", has_text="신고 삭제").click()
    victim.get_by_role("button", name="삭제 요청").click()
    deletion = victim.locator("#deletion")
    deletion.wait_for()
    assert "감독자가 요청을 살펴볼 거예요" in deletion.inner_text()
    shoot(victim, "33-intake-deletion-asked")

    # A supervisor puts an unrelated case under legal hold, then approves the reporter's request.
    staff = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = staff.new_page()
    page.set_default_timeout(15000)
    supervisor = factories.make_user("supervisor", central, username="minji")
    case = factories.make_case(caseworker)
    sign_in(page, live_server, supervisor, factories.make_device(supervisor))
    page.wait_for_url("**/work/")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.locator("#retention summary", has_text="법적 보존 설정").click()
    hold_form = page.locator("#retention form", has=page.get_by_role("button", name="보존 설정"))
    hold_form.locator("textarea").fill("수사기관의 보존 요청(2026-123)에 따라 보관합니다.")
    page.get_by_role("button", name="보존 설정").click()
    page.wait_for_load_state()
    assert "법적 보존을 설정했습니다" in page.content()
    shoot(page, "34-case-legal-hold")

    page.goto(f"{live_server.url}/cases/deletion-requests/")
    shoot(page, "35-deletion-queue-waiting")
    page.get_by_role("button", name="승인하고 삭제").click()
    page.wait_for_load_state()
    request = DeletionRequest.objects.get()
    assert request.status == "approved"
    assert deletion_request_carry_out(request.pk)  # what the worker's task does, minutes later
    page.goto(f"{live_server.url}/cases/retention/")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("tbody tr").count() >= 9  # every policy, then the purge just done
    shoot(page, "38-retention-overview")

    victim.goto(f"{live_server.url}/report/status/")
    victim.locator("#id_receipt").fill(receipt)
    victim.locator("button[type=submit]").last.click()
    victim.wait_for_load_state()
    text = victim.locator("main").inner_text()
    assert "삭제했어요" in text
    assert "지워 주세요" not in victim.content()
    shoot(victim, "36-intake-deleted")
    phone.close()
    staff.close()


def test_admin_sees_failed_work_in_korean(browser, live_server, shoot, central) -> None:
    from django.utils import timezone

    now = timezone.now()
    TaskFailure.objects.create(
        task_name="evidence.tasks.process_video", task_id="t-1", args=[41], exception="TimeoutError",
        message="probe timed out", first_failed_at=now, last_failed_at=now,
    )  # fmt: skip
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    admin = factories.make_user("admin", central, username="ops-admin")
    sign_in(page, live_server, admin, factories.make_device(admin))
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/ops/failed/")
    assert "evidence.tasks.process_video" in page.content()
    assert page.get_by_role("button", name="재시도").count() == 1
    shoot(page, "37-failed-work")
    context.close()
