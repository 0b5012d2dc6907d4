"""Every remaining staff and public page opens in a real browser, in Korean, for the right role."""

from __future__ import annotations

import pytest
from django.utils import translation

from cases import intake
from takedowns import services
from takedowns.models import Notice
from tests import factories
from tests.browser.conftest import sign_in
from tests.conftest import wait_until
from tests.evidence.helpers import add_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def korean_page(browser):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def _visit(page, url: str, shoot, name: str, heading: str) -> str:
    """Opens a page and checks what a Korean-speaking person sees first: its heading, in Korean."""
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, url
    assert page.locator("html").get_attribute("lang") == "ko"
    with translation.override("ko"):
        expected = translation.gettext(heading)
    assert expected != heading, f"{heading!r} has no Korean translation"
    assert expected in page.locator("main h1").first.inner_text(), url
    shoot(page, name)
    return page.content()


def _ko(text: str) -> str:
    with translation.override("ko"):
        return translation.gettext(text)


@pytest.mark.worker
def test_caseworker_pages_in_korean(
    korean_page,
    live_server,
    shoot,
    central,
    tmp_path,
    celery_worker_process,
    simulator,
) -> None:
    page = korean_page
    worker = factories.make_user("caseworker", central, username="seoyeon")
    case = factories.make_case(worker, consent={"takedown": True})
    evidence = add_image(case, worker, tmp_path, seed=501)
    # A platform with only a web form, whose pages the simulator serves (host 127.0.0.1).
    platform = services.platform_create(
        acting_user=None, name="Form Only", domains=["127.0.0.1"], channel="manual",
        web_form_url="https://formonly.example/report",
    )  # fmt: skip
    simulator.host_file("/p/1.jpg", (tmp_path / "501-photo.jpg").read_bytes(), "image/jpeg")
    url = simulator.host_page("/p/1", '<html><body><h1>post</h1><img src="/p/1.jpg"></body></html>')
    request = services.takedown_create(case=case, url=url, acting_user=worker, evidence_ids=[evidence.pk])
    services.takedown_approve(requests=[request], acting_user=worker)
    # The worker looks at the page first; it shows something, so the notice waits for a person.
    wait_until(lambda: Notice.objects.filter(request=request, status="manual").exists(), timeout=30)
    assert ("GET", "/p/1") in {(e["method"], e["path"]) for e in simulator.requests_log}
    report, _receipt = intake.intake_submit(intake.IntakeInput(description="도와주세요", urls=("https://x.example/1",)))
    sign_in(page, live_server, worker, factories.make_device(worker))
    page.wait_for_url("**/work/")
    base = live_server.url
    assert "Form Only" in _visit(page, f"{base}/takedowns/", shoot, "20-takedowns-list", "Takedown requests")
    assert url in _visit(page, f"{base}/takedowns/{request.pk}/", shoot, "21-takedown-detail", "Takedown")
    assert "formonly.example/report" in _visit(page, f"{base}/takedowns/manual/", shoot, "22-manual-queue", "Web forms to submit")
    _visit(page, f"{base}/takedowns/match/", shoot, "23-match", "Is this known material?")
    page.locator("#id_file").set_input_files(str(tmp_path / "501-photo.jpg"))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert case.reference in page.content()  # the evidence's own picture matches its case
    shoot(page, "24-match-result")
    assert _ko("No watchlists yet.") in _visit(page, f"{base}/takedowns/watchlists/", shoot, "25-watchlists", "Watchlists")
    assert "도와주세요" not in _visit(page, f"{base}/intake/", shoot, "26-triage-list", "Reports from the public form")
    assert "도와주세요" in _visit(page, f"{base}/intake/{report.pk}/", shoot, "27-triage-detail", "Report")
    assert platform.pk


def test_supervisor_and_public_pages_in_korean(korean_page, live_server, shoot, central, caseworker) -> None:
    page = korean_page
    services.platform_create(acting_user=None, name="Delta", domains=["delta.example"], channel="email", email="d@delta.example")
    supervisor = factories.make_user("supervisor", central, username="jiho")
    sign_in(page, live_server, supervisor, factories.make_device(supervisor))
    page.wait_for_url("**/work/")
    base = live_server.url
    assert caseworker.username in _visit(page, f"{base}/compliance/workload/", shoot, "28-workload", "Workload of the centre")
    assert _ko("No requests in this period.") in _visit(
        page, f"{base}/compliance/", shoot, "29-compliance-ko", "How platforms respond"
    )
    from takedowns.models import Platform

    report_page = _visit(
        page,
        f"{base}/compliance/platform/{Platform.objects.get(name='Delta').pk}/report/",
        shoot,
        "30-regulator-report",
        "Regulator report",
    )
    assert "Delta" in page.locator("main h1").first.inner_text() and _ko("Figure") in report_page
    assert _ko("No figures yet.") in _visit(
        page, f"{base}/transparency/?lang=ko", shoot, "31-transparency", "How platforms respond to our removal requests"
    )
    assert _ko("No deletion request is waiting.") in _visit(
        page, f"{base}/cases/deletion-requests/", shoot, "32-deletion-requests", "Data deletion requests"
    )
