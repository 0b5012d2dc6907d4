"""Compliance figures on a small hand-built data set: exactly right, and only for the right roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from takedowns import rollup, services
from takedowns.compliance import Filters, nearest_rank, overall_figures, platform_figures
from takedowns.models import TakedownRequest
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


def _request(case, user, url: str, *, sent_hours: float = 0, removed_after: float | None = None, status: str = "sent",
             acknowledged_after: float | None = None, reappeared: bool = False, deadline_hours: float = 24) -> TakedownRequest:  # fmt: skip
    request = services.takedown_create(case=case, url=url, acting_user=user)
    sent = T0 + timedelta(hours=sent_hours)
    TakedownRequest.objects.filter(pk=request.pk).update(
        sent_at=sent,
        deadline=sent + timedelta(hours=deadline_hours),
        removed_at=sent + timedelta(hours=removed_after) if removed_after is not None else None,
        acknowledged_at=sent + timedelta(hours=acknowledged_after) if acknowledged_after is not None else None,
        reappeared_at=sent + timedelta(days=3) if reappeared else None,
        status="reappeared" if reappeared else ("removed" if removed_after is not None else status),
    )
    return request


@pytest.fixture
def data(caseworker):
    a = services.platform_create(
        acting_user=None, name="Alpha", domains=["alpha.example"], channel="email", email="a@alpha.example"
    )
    b = services.platform_create(acting_user=None, name="Beta", domains=["beta.example"], channel="email", email="b@beta.example",
                                 jurisdiction="AU")  # fmt: skip
    case = factories.make_case(caseworker, category="deepfake")
    _request(case, caseworker, "https://alpha.example/1", removed_after=2, acknowledged_after=1)
    _request(case, caseworker, "https://alpha.example/2", removed_after=4, acknowledged_after=3)
    _request(case, caseworker, "https://alpha.example/3", removed_after=10, reappeared=True)
    _request(case, caseworker, "https://alpha.example/4", removed_after=30)
    _request(case, caseworker, "https://alpha.example/5")  # never removed; its deadline passed: overdue
    _request(case, caseworker, "https://alpha.example/old", sent_hours=-24 * 60, removed_after=1)  # outside the range
    other = factories.make_case(caseworker, category="sextortion")
    _request(other, caseworker, "https://beta.example/1", removed_after=1)
    _request(other, caseworker, "https://beta.example/2", removed_after=1)
    rollup.refresh()  # what beat and the pages do before figures are read
    return a, b


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([2, 4, 10, 30], 0.5) == 4
    assert nearest_rank([2, 4, 10, 30], 0.9) == 30
    assert nearest_rank([5], 0.9) == 5
    assert nearest_rank([], 0.5) is None
    assert nearest_rank(list(range(1, 11)), 0.9) == 9


def test_figures_are_exact_and_the_worst_comes_first(data) -> None:
    rows = platform_figures(Filters(since=date(2026, 3, 1), until=date(2026, 4, 1)))
    assert [r.platform for r in rows] == ["Alpha", "Beta"]
    alpha, beta = rows
    assert alpha.requests == 5
    assert alpha.removed == 4
    assert alpha.removal_rate == 0.8
    assert alpha.median_hours_to_removal == 4.0
    assert alpha.p90_hours_to_removal == 30.0
    assert alpha.within_sla_rate == 0.6  # 2, 4 and 10 h in time; 30 h late; one still up past its deadline
    assert alpha.overdue == 2  # the one never removed, and the one back up (reappeared is open again)
    assert alpha.median_hours_to_first_answer == 1.0
    assert alpha.reappeared == 1
    assert alpha.reappearance_rate == 0.25
    assert (beta.requests, beta.removal_rate, beta.median_hours_to_removal, beta.within_sla_rate) == (2, 1.0, 1.0, 1.0)
    overall = overall_figures(Filters(since=date(2026, 3, 1), until=date(2026, 4, 1)))
    assert (overall.requests, overall.removed) == (7, 6)


def test_filters_by_jurisdiction_and_category(data) -> None:
    only_au = platform_figures(Filters(since=date(2026, 3, 1), until=date(2026, 4, 1), jurisdiction="AU"))
    assert [r.platform for r in only_au] == ["Beta"]
    deepfakes = platform_figures(Filters(since=date(2026, 3, 1), until=date(2026, 4, 1), category="deepfake"))
    assert [r.platform for r in deepfakes] == ["Alpha"]


def test_api_answers_the_contract_for_analysts_only(data, central, api_for, caseworker) -> None:
    analyst = api_for(factories.make_user("analyst", central))
    response = analyst.get("/api/v1/compliance/platforms/", {"since": "2026-03-01", "until": "2026-04-01"})
    assert response.status_code == 200
    alpha = response.json()[0]
    for key in ("platform", "requests", "removed", "removal_rate", "median_hours_to_removal", "p90_hours_to_removal",
                "within_sla_rate", "overdue", "reappeared"):  # fmt: skip
        assert key in alpha
    assert alpha["platform"] == "Alpha"
    assert alpha["p90_hours_to_removal"] == 30.0
    assert "case" not in str(response.json()).lower()  # no case, no victim
    assert api_for(caseworker).get("/api/v1/compliance/platforms/").status_code == 403
    assert analyst.get("/api/v1/compliance/platforms/", {"since": "2026-04-01", "until": "2026-03-01"}).status_code == 400
    assert analyst.get("/api/v1/compliance/platforms/", {"since": "not-a-date"}).status_code == 400


def test_dashboard_drilldown_csv_and_chart_for_analysts(data, central, client_for, caseworker) -> None:
    analyst = client_for(factories.make_user("analyst", central))
    query = {"since": "2026-03-01", "until": "2026-04-01"}
    page = analyst.get("/compliance/", query).content.decode()
    assert page.index(">Alpha<") < page.index(">Beta<")  # worst first
    assert "<svg" in page
    csv_text = analyst.get("/compliance/", {**query, "format": "csv"}).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("platform,requests,removed,removal_rate")
    assert "Alpha,5,4,0.8,4.0,30.0,0.6,2" in csv_text
    alpha_id = TakedownRequest.objects.filter(url__contains="alpha").values_list("platform_id", flat=True).first()
    behind = analyst.get("/compliance/requests/", {**query, "platform": alpha_id, "figure": "overdue"}).content.decode()
    ids = dict(TakedownRequest.objects.values_list("url", "pk"))
    assert f"<td>{ids['https://alpha.example/5']}</td>" in behind
    assert f"<td>{ids['https://alpha.example/1']}</td>" not in behind
    assert "alpha.example/5" not in behind  # an analyst sees the host and a keyed hash, never the address
    assert analyst.get("/compliance/charts/removals-by-week.svg", query)["Content-Type"] == "image/svg+xml"
    assert "2026-03-09,6" in analyst.get("/compliance/charts/removals-by-week.csv", query).content.decode("utf-8-sig")
    # Caseworkers and auditors have no dashboards.
    for user in (caseworker, factories.make_user("auditor", central)):
        assert client_for(user).get("/compliance/").status_code == 404


def test_public_transparency_page_suppresses_small_counts(data) -> None:
    from django.test import Client
    from django.utils import timezone

    from takedowns.compliance import suppress

    # Move the data set into this month so it is inside the twelve-month window.
    shift = timezone.now() - T0
    for request in TakedownRequest.objects.filter(sent_at__isnull=False):
        TakedownRequest.objects.filter(pk=request.pk).update(sent_at=request.sent_at + shift)
    page = Client().get("/transparency/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha" in html
    assert "&lt;10" in html  # 5 and 2 requests are both under 10
    assert ">5<" not in html
    assert suppress(0) == "0"
    assert suppress(9) == "<10"
    assert suppress(10) == "10"
    assert "<10" in Client().get("/transparency/", {"format": "csv"}).content.decode("utf-8-sig")


def test_workload_for_supervisors_only(caseworker, caseworker_b, supervisor, client_for) -> None:
    factories.make_case(caseworker)
    factories.make_case(caseworker)
    factories.make_case(caseworker_b)
    page = client_for(supervisor).get("/compliance/workload/").content.decode()
    assert caseworker.username in page
    assert caseworker_b.username in page
    from takedowns.compliance import workload

    rows = {r["user"]: r for r in workload(supervisor.centre_id)}
    assert rows[caseworker.username]["open_cases"] == 2
    assert rows[caseworker_b.username]["open_cases"] == 1
    assert client_for(caseworker).get("/compliance/workload/").status_code == 404


def test_every_figure_drills_down_to_its_requests(data, central, client_for) -> None:
    # A supervisor of the cases' centre: the one who sees the addresses in the drill-down.
    reader = client_for(factories.make_user("supervisor", central))
    alpha_id = TakedownRequest.objects.filter(url__contains="alpha").values_list("platform_id", flat=True).first()
    query = {"since": "2026-03-01", "until": "2026-04-01", "platform": alpha_id}

    def behind(figure: str) -> set[str]:
        text = reader.get("/compliance/requests/", {**query, "figure": figure, "format": "csv"}).getvalue().decode("utf-8-sig")
        return {line.split(",")[4].rsplit("/", 1)[1] for line in text.splitlines()[1:]}

    # Within the deadline is 60%: the other two of the five decided are the late ones.
    assert behind("late") == {"4", "5"}
    assert behind("answered") == {"1", "2"}
    assert behind("reappeared") == {"3"}
    assert behind("requests") == {"1", "2", "3", "4", "5"}  # the one sent in January is outside the range
    assert behind("escalations") == set()
    page = reader.get("/compliance/requests/", {**query, "figure": "late"}).content.decode()
    assert "Not removed within the deadline" in page
    assert "2 requests." in page
    assert reader.get("/compliance/requests/", {**query, "figure": "nonsense"}).status_code == 404
