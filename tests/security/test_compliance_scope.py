"""Threat: a compliance account reads another centre's material addresses and case references.

Before: the compliance drill-down, its CSV and the regulator report listed every request of every
centre with its URL and case reference, to analysts, administrators and supervisors of any centre.

Control (takedowns/compliance.py "Who sees which rows", compliance_views.requests_behind,
regulator_report): figures per platform stay national (they hold no address); a row naming a
request shows its address and case reference only to a supervisor of the case's centre. The
drill-down lists a supervisor's own centre's rows only; analysts and administrators see every row
with the host and a keyed hash (HMAC, key from the master key by HKDF) instead of the address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from takedowns import rollup, services
from takedowns.compliance import url_pseudonym
from takedowns.models import TakedownRequest
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
PERIOD = {"since": "2026-03-01", "until": "2026-04-01"}
URL_A = "https://alpha.example/centre-a-secret-page"
URL_B = "https://alpha.example/centre-b-secret-page"


def _sent(case, user, url: str) -> TakedownRequest:
    request = services.takedown_create(case=case, url=url, acting_user=user)
    # Sent, and overdue: it is in the drill-down and in the regulator report's overdue list.
    TakedownRequest.objects.filter(pk=request.pk).update(sent_at=T0, deadline=T0 + timedelta(hours=24), status="sent")
    request.refresh_from_db()
    return request


@pytest.fixture
def world(central, region):
    platform = services.platform_create(
        acting_user=None, name="Alpha", domains=["alpha.example"], channel="email", email="a@alpha.example"
    )
    worker_a = factories.make_user("caseworker", central)
    worker_b = factories.make_user("caseworker", region)
    case_a = factories.make_case(worker_a)
    case_b = factories.make_case(worker_b)
    request_a = _sent(case_a, worker_a, URL_A)
    request_b = _sent(case_b, worker_b, URL_B)
    rollup.refresh()
    return {
        "platform": platform, "case_a": case_a, "case_b": case_b, "request_a": request_a, "request_b": request_b,
        "sup_a": factories.make_user("supervisor", central), "sup_b": factories.make_user("supervisor", region),
        "analyst": factories.make_user("analyst", central), "admin": factories.make_user("admin", central),
    }  # fmt: skip


def _drilldown(client, **extra) -> str:
    return client.get("/compliance/requests/", {**PERIOD, "figure": "requests", **extra}).content.decode()


def _drilldown_csv(client) -> str:
    response = client.get("/compliance/requests/", {**PERIOD, "figure": "requests", "format": "csv"})
    return b"".join(response.streaming_content).decode("utf-8-sig")


def _report(client, platform, suffix: str = "report/") -> bytes:
    response = client.get(f"/compliance/platform/{platform.pk}/{suffix}", PERIOD)
    assert response.status_code == 200
    return response.content


def test_supervisor_of_another_centre_sees_no_url_of_ours_in_page_or_csv(world, client_for, api_for) -> None:
    client = client_for(world["sup_b"])
    page, csv_text = _drilldown(client), _drilldown_csv(client)
    for text in (page, csv_text):
        assert "centre-a-secret-page" not in text
        assert f"<td>{world['request_a'].pk}</td>" not in text  # not even the row
        assert "centre-b-secret-page" in text  # their own centre's row, with its address
    assert f"\n{world['request_a'].pk}," not in csv_text
    assert csv_text.splitlines()[0].split(",")[:5] == ["id", "platform", "host", "url_hash", "url"]
    _api_keeps_contract_and_national_figures(api_for(world["sup_b"]))


def _api_keeps_contract_and_national_figures(api) -> None:
    """The contract's compliance endpoint is figures only: its fields stay, and stay national."""
    response = api.get("/api/v1/compliance/platforms/", PERIOD)
    assert response.status_code == 200
    assert "secret-page" not in response.content.decode()
    row = response.json()[0]
    assert {"platform", "requests", "removed", "removal_rate", "median_hours_to_removal", "p90_hours_to_removal",
            "within_sla_rate", "overdue", "reappeared"} <= set(row)  # fmt: skip
    assert row["requests"] == 2  # both centres' requests: a figure names no address


def test_supervisor_of_another_centre_sees_no_url_or_reference_of_ours_in_the_regulator_report(world, client_for) -> None:
    client = client_for(world["sup_b"])
    html = _report(client, world["platform"]).decode()
    assert "centre-a-secret-page" not in html
    assert world["case_a"].reference not in html
    assert "centre-b-secret-page" in html  # their own case's request: address and reference
    assert world["case_b"].reference in html
    # The other centre's request is still counted and listed, as its host and keyed hash.
    assert url_pseudonym(world["request_a"].url_key) in html


def test_own_centre_supervisor_sees_the_urls(world, client_for) -> None:
    client = client_for(world["sup_a"])
    for text in (_drilldown(client), _drilldown_csv(client), _report(client, world["platform"]).decode()):
        assert "centre-a-secret-page" in text
        assert "centre-b-secret-page" not in text
    assert world["case_a"].reference in _report(client, world["platform"]).decode()


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_analysts_and_admins_see_host_and_keyed_hash_never_the_url(world, client_for, api_for, role) -> None:
    client = client_for(world[role])
    page, csv_text = _drilldown(client), _drilldown_csv(client)
    report = _report(client, world["platform"]).decode()
    for text in (page, csv_text, report):
        assert "alpha.example" in text
        assert "secret-page" not in text
        assert url_pseudonym(world["request_a"].url_key) in text
        assert url_pseudonym(world["request_b"].url_key) in text
    for text in (page, report):
        assert world["case_a"].reference not in text
        assert world["case_b"].reference not in text
    # Every row nationally, each with an empty url column.
    lines = csv_text.splitlines()[1:]
    assert len(lines) == 2
    assert all(line.split(",")[4] == "" for line in lines)
    _api_keeps_contract_and_national_figures(api_for(world[role]))


def test_regulator_report_pdf_has_no_url_for_an_analyst(world, client_for) -> None:
    pypdf = pytest.importorskip("pypdf")
    from io import BytesIO

    content = _report(client_for(world["analyst"]), world["platform"], "report.pdf")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(BytesIO(content)).pages)
    assert "secret-page" not in text.replace("\n", "")
    assert world["case_a"].reference not in text


def test_keyed_hash_is_stable_per_page_and_not_a_plain_hash(world) -> None:
    import hashlib

    key = world["request_a"].url_key
    assert url_pseudonym(key) == url_pseudonym(key)
    assert url_pseudonym(key) != url_pseudonym(world["request_b"].url_key)
    assert url_pseudonym(key) not in (hashlib.sha256(key.encode()).hexdigest()[:16], hashlib.md5(key.encode()).hexdigest()[:16])
