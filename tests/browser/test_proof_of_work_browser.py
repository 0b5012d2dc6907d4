"""The proof of work (cases/pow.py) solved by a real browser with static/js/pow.js
(tests/security/test_proof_of_work.py holds the threat and the server-side checks)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def strict(settings):
    settings.INTAKE_NO_POW_PER_MINUTE = 0  # a form without a proof would be refused
    settings.INTAKE_POW_BITS = 8
    return settings


def test_a_real_browser_solves_the_proof(strict, page, live_server) -> None:
    page.goto(f"{live_server.url}/report/?lang=en")
    page.locator("#id_description").fill("they shared it in a chat room")
    page.locator("button[type=submit]").last.click()
    receipt = page.get_by_test_id("receipt").inner_text().strip()
    assert len(receipt.replace("-", "")) == 32
    page.goto(f"{live_server.url}/report/status/?lang=en")
    page.locator("#id_receipt").fill(receipt)
    page.locator("button[type=submit]").last.click()
    assert page.get_by_text("Received").count() >= 1
