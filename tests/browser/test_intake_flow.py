"""The public report form on a phone: accessible (axe-core), calm, quick exit, receipt once."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases.models import IntakeReport

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
AXE = Path(__file__).resolve().parents[2] / "var" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def _axe_violations(page) -> list[dict]:
    if not AXE.exists():
        pytest.fail("axe-core is missing; `make test` installs it (tools/ensure_services.sh).")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture
def a11y_phone(browser):
    # bypass_csp lets the test inject axe-core; the site's own policy stays as it is.
    context = browser.new_context(
        locale="ko-KR", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_report_on_a_phone_is_accessible_and_gives_a_receipt(a11y_phone, live_server, shoot, tmp_path) -> None:
    from tests import media

    page = a11y_phone
    screenshot = tmp_path / "screenshot.png"
    screenshot.write_bytes(media.image_bytes("PNG", seed=401))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_server.url}/report/")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert _axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "15-intake-form-phone-ko")
    page.locator("#id_description").fill("학교 단톡방에 제 사진이 합성되어 올라왔어요.")
    page.locator("#id_urls").fill("https://chat.example/room/9")
    page.locator("#id_files").set_input_files(str(screenshot))
    page.locator("button[type=submit]").last.click()
    receipt = page.get_by_test_id("receipt").inner_text().strip()
    assert len(receipt.replace("-", "")) == 32
    assert receipt not in page.url
    assert _axe_violations(page) == []
    shoot(page, "16-intake-receipt")
    report = IntakeReport.objects.get()
    assert report.files.count() == 1  # checked and encrypted on arrival
    assert report.language == "ko"
    # Every request went to this site: nothing loaded from elsewhere.
    assert all(url.startswith(live_server.url) for url in requests), requests

    page.goto(f"{live_server.url}/report/status/")
    page.locator("#id_receipt").fill(receipt)
    page.locator("button[type=submit]").last.click()
    assert "chat.example/room/9" in page.content()
    assert _axe_violations(page) == []
    shoot(page, "17-intake-status")


def test_quick_exit_leaves_no_intake_page_to_go_back_to(page, live_server) -> None:
    # Stay on this machine: the neutral site is replaced by a local page for the test.
    page.route("https://www.google.com/**", lambda route: route.fulfill(status=200, body="<html><body>weather</body></html>"))
    page.goto(f"{live_server.url}/report/")
    page.get_by_role("link", name="Quick exit").click()
    page.wait_for_url("https://www.google.com/**")
    assert "weather" in page.content()
    page.go_back()
    assert "/report/" not in page.url  # the intake page was replaced, not pushed


def test_escape_twice_leaves_at_once(page, live_server) -> None:
    page.route("https://www.google.com/**", lambda route: route.fulfill(status=200, body="<html><body>weather</body></html>"))
    page.goto(f"{live_server.url}/report/")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_url("https://www.google.com/**")


def test_fingerprint_only_sends_no_image_bytes(page, live_server, tmp_path) -> None:
    from PIL import Image

    from cases.models import IntakeFingerprint
    from hashing.image import fingerprint_image
    from tests import media

    picture = media.image_bytes("JPEG", seed=402, size=(800, 600))
    path = tmp_path / "private.jpg"
    path.write_bytes(picture)
    posted: list[bytes] = []
    page.on("request", lambda r: posted.append(r.post_data_buffer or b"") if r.method == "POST" else None)
    page.goto(f"{live_server.url}/report/?lang=en")
    page.locator("#fp-files").set_input_files(str(path))
    # A locator wait, not wait_for_function: the page's CSP (rightly) forbids evaluating strings.
    page.locator("[data-fingerprint-status]", has_text="✓").wait_for()
    assert page.locator("#fp-files").evaluate("el => el.files.length") == 0  # cleared: cannot be sent
    page.locator("button[type=submit]").last.click()
    page.get_by_test_id("receipt").wait_for()
    body = b"".join(posted)
    assert picture[:64] not in body
    assert picture[len(picture) // 2 : len(picture) // 2 + 64] not in body
    assert len(body) < 20_000  # a form of text, not a picture
    stored = {(f.algorithm, f.mirrored): f for f in IntakeFingerprint.objects.all()}
    expected = {(f.algorithm, f.mirrored): f.value for f in fingerprint_image(Image.open(path))}
    assert {k: f.value for k, f in stored.items()} == expected  # the browser computed what the server would
    assert stored[("pdq", False)].quality is not None
