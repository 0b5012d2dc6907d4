"""A caseworker pastes 200 addresses into a case, approves all the drafts at once and watches the
statuses turn Sent in place, while a real Celery worker delivers the notices to the platform
simulator over HTTP."""

from __future__ import annotations

import pytest

from takedowns.models import Notice, RequestStatus, TakedownRequest
from tests import factories, media
from tests.browser.conftest import sign_in
from tests.conftest import wait_until
from tests.takedowns.conftest import consenting_case, sim_platform  # noqa: F401 - a fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]

COUNT = 200
PAGE = 50  # the case page shows the requests 50 at a time
ALL_SENT = """([count, label]) => {
  const tags = document.querySelectorAll("#takedowns tr[data-request] [data-status]");
  return tags.length === count && Array.from(tags).every((tag) => tag.textContent.trim() === label);
}"""


def _host_posts(simulator) -> list[str]:
    urls = []
    for i in range(1, COUNT + 1):
        simulator.host_file(f"/b/{i}.jpg", media.image_bytes("JPEG", seed=1000 + i, size=(96, 64)), "image/jpeg")
        urls.append(simulator.host_page(f"/b/{i}", f'<html><body><h1>post {i}</h1><img src="/b/{i}.jpg"></body></html>'))
    return urls


def test_bulk_paste_approve_all_and_watch_them_sent(
    page,
    live_server,
    shoot,
    celery_worker_process,
    simulator,
    sim_platform,  # noqa: F811 - the fixture
    central,
) -> None:
    caseworker = factories.make_user("caseworker", central, username="jiwoo")
    device = factories.make_device(caseworker)
    case = consenting_case(caseworker, victim={"pseudonym": "Morning Lark"})
    urls = _host_posts(simulator)
    assert all(url.startswith("http://127.0.0.1:") for url in urls)  # the simulator's platform, by host
    # The first few notices are rate-limited for a few seconds, so some rows are certainly still
    # "Queued" when the page comes back after approval and must turn "Sent" through the polling.
    simulator.behave(None, "rate_limit", times=3, retry_after=6)

    sign_in(page, live_server, caseworker, device)
    page.wait_for_url("**/work/")

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    panel = page.locator("#takedowns")
    panel.get_by_label("Addresses to take down (paste one per line, or CSV)").fill("\n".join(urls))
    # The form posts by XHR, shows the summary, then reloads the page.
    with page.expect_navigation():
        panel.get_by_role("button", name="Create drafts").click()
    rows = page.locator("#takedowns tr[data-request]")
    page.wait_for_function(ALL_SENT, arg=[PAGE, "Draft"])
    assert rows.count() == PAGE
    assert TakedownRequest.objects.filter(case=case, status=RequestStatus.DRAFT, platform=sim_platform).count() == COUNT
    assert all(cell.startswith("http://127.0.0.1:") for cell in page.locator("#takedowns td.url a").all_inner_texts())
    shoot(page, "13-takedowns-drafts")

    # Approving every draft is its own action: a page states the count and asks to confirm.
    with page.expect_navigation():
        page.get_by_role("link", name=f"Approve all {COUNT} drafts").click()
    with page.expect_navigation():
        page.get_by_role("button", name=f"Yes, approve all {COUNT} drafts").click()
    assert page.get_by_text(f"{COUNT} notices approved and queued.").is_visible()
    # From here on the page must not reload: the statuses change through /statuses/ polling only.
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#takedowns [data-status].status-queued").count() >= 1  # the rate-limited ones
    page.wait_for_function(ALL_SENT, arg=[PAGE, "Sent"], timeout=60_000, polling=500)
    assert page.evaluate("window.__sameDocument === true")
    assert page.locator("#takedowns [data-status].status-sent").count() == PAGE
    shoot(page, "14-takedowns-sent")

    # The page shows the newest 50; older notices held back by the platform's rate limit (retry
    # after 6 s) may still be on their way while the pool's processes finish the rest.
    wait_until(lambda: TakedownRequest.objects.filter(case=case, status=RequestStatus.SENT).count() == COUNT, timeout=60)
    received = simulator.notices
    assert len(simulator.unique_notices()) == COUNT
    assert sorted(n["body"]["url"] for n in received) == sorted(urls)
    keys = set(Notice.objects.filter(request__case=case).values_list("idempotency_key", flat=True))
    assert {n["idempotency_key"] for n in received} == {str(k) for k in keys}
    assert simulator.duplicate_count() == 0
