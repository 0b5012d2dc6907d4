"""An analyst opens the compliance dashboard: the chart renders, a drill-down and a CSV download work."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from takedowns import services
from takedowns.models import TakedownRequest
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_dashboard_chart_drilldown_and_csv(page, live_server, shoot, central) -> None:
    worker = factories.make_user("caseworker", central)
    platform = services.platform_create(
        acting_user=None, name="Gamma", domains=["gamma.example"], channel="email", email="g@gamma.example"
    )
    case = factories.make_case(worker)
    now = timezone.now()
    for i in range(6):
        request = services.takedown_create(case=case, url=f"https://gamma.example/{i}", acting_user=worker)
        sent = now - timedelta(days=20 - i)
        TakedownRequest.objects.filter(pk=request.pk).update(
            sent_at=sent, deadline=sent + timedelta(hours=24), status="removed" if i % 2 else "sent",
            removed_at=sent + timedelta(hours=3 + i) if i % 2 else None,
        )  # fmt: skip
    analyst = factories.make_user("analyst", central, username="analyst1")
    sign_in(page, live_server, analyst, factories.make_device(analyst))
    page.wait_for_url("**/compliance/**")
    assert page.get_by_role("heading", name="How platforms respond").is_visible()
    chart = page.get_by_test_id("chart-removals-by-week").locator("svg")
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 200
    assert chart.locator("rect").count() >= 1
    # The distribution of time to removal and the deadline chart render too (no reappearances here).
    for name in ("time-to-removal", "deadline-compliance"):
        other = page.get_by_test_id(f"chart-{name}").locator("svg")
        assert other.bounding_box()["width"] > 200
        assert other.locator("rect").count() >= 2
    with page.expect_download() as image:
        page.get_by_test_id("chart-time-to-removal").locator("..").get_by_role("link", name="Download as image (SVG)").click()
    assert Path(image.value.path()).read_text(encoding="utf-8").startswith("<svg")
    shoot(page, "18-compliance-dashboard")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this table (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("platform,requests,removed")
    assert "Gamma,6,3" in text
    page.locator(f'a[href*="platform={platform.pk}"][href*="figure=removed"]').first.click()
    page.wait_for_url("**/compliance/requests/**")
    assert page.locator("tbody tr").count() == 3
    shoot(page, "19-compliance-drilldown")
