"""A caseworker uploads several files with a progress bar, sees blurred previews, reveals one
with a reason, and finds the reveal in the custody log."""

from __future__ import annotations

import pytest

from evidence.models import CustodyEvent, Evidence
from tests import factories, media
from tests.browser.conftest import sign_in
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_upload_blur_reveal_custody(page, live_server, shoot, central, tmp_path) -> None:
    caseworker = factories.make_user("caseworker", central, username="hana")
    device = factories.make_device(caseworker)
    case = factories.make_case(caseworker, victim={"pseudonym": "Still Lake"})
    files = []
    for seed, fmt, name in ((51, "JPEG", "harbour.jpg"), (52, "PNG", "forest.png"), (53, "WEBP", "hills.webp")):
        path = tmp_path / name
        path.write_bytes(media.image_bytes(fmt, seed=seed, size=(900, 600)))
        files.append(str(path))
    bad = tmp_path / "note.svg"
    bad.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    files.append(str(bad))

    sign_in(page, live_server, caseworker, device)
    page.wait_for_url("**/work/")

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    panel = page.locator("#evidence")
    panel.get_by_label("Files").set_input_files(files)
    panel.get_by_label("Where it was found (URL, optional)").fill("https://example.com/channel/123")
    panel.get_by_role("button", name="Upload and lock").click()
    results = panel.locator("[data-results] li")
    results.nth(3).wait_for()
    assert panel.locator("progress[data-progress]").get_attribute("value") == "100"
    texts = results.all_inner_texts()
    assert sum("note.svg" in t and "SVG" in t for t in texts) == 1
    shoot(page, "10-evidence-upload-results")
    # The page reloads itself after a successful upload: wait for the three previews it then shows.
    thumbs = page.locator("#evidence img[alt='Blurred preview']")
    thumbs.nth(2).wait_for()
    assert Evidence.objects.filter(case=case).count() == 3
    assert thumbs.count() == 3
    wait_until(lambda: all(thumbs.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(3)), timeout=15)
    shoot(page, "11-case-evidence-blurred")

    thumbs.first.click()
    page.wait_for_url("**/evidence/*/")
    assert page.get_by_test_id("preview-blurred").is_visible()
    page.get_by_label("Why do you need to see it unblurred?").fill("Confirming it matches the reported post")
    page.get_by_role("button", name="Show unblurred").click()
    page.wait_for_url("**/evidence/*/")
    assert page.get_by_test_id("preview-full").evaluate("img => img.naturalWidth > 0")
    custody = page.locator("#custody")
    assert "Viewed unblurred" in custody.inner_text()
    assert "Confirming it matches the reported post" in custody.inner_text()
    shoot(page, "12-evidence-revealed")
    assert CustodyEvent.objects.filter(action="reveal", reason="Confirming it matches the reported post").count() == 1
    with page.expect_navigation():
        page.get_by_role("button", name="Blur again").click()
    assert page.get_by_test_id("preview-blurred").is_visible()
