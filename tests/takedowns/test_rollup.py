"""The daily roll-up behind the compliance figures: the same numbers as counting the requests
directly, and kept current by the database triggers whatever path changes a request."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from takedowns import charts, rollup, services
from takedowns.compliance import Filters, drilldown, nearest_rank, platform_figures, summary
from takedowns.models import ComplianceDay, ComplianceDirty, Notice, TakedownRequest
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
PERIOD = Filters(since=date(2026, 2, 1), until=date(2026, 5, 1))


@pytest.fixture
def platforms():
    return [
        services.platform_create(acting_user=None, name=name, domains=[f"{name.lower()}.example"], channel="email",
                                 email=f"abuse@{name.lower()}.example")
        for name in ("Alpha", "Beta", "Gamma")
    ]  # fmt: skip


def _random_requests(caseworker, platforms, n: int = 240, seed: int = 7) -> list[TakedownRequest]:
    rng = random.Random(seed)
    cases = [factories.make_case(caseworker, category=c) for c in ("deepfake", "sextortion", "intimate_image")]
    made = []
    for i in range(n):
        platform = rng.choice(platforms)
        request = services.takedown_create(
            case=rng.choice(cases), url=f"https://{platform.domains[0]}/{i}", acting_user=caseworker
        )
        sent = T0 + timedelta(days=rng.uniform(-30, 40), seconds=rng.randint(0, 86399))
        removed = sent + timedelta(seconds=rng.randint(60, 12 * 86400)) if rng.random() < 0.75 else None
        answered = sent + timedelta(seconds=rng.randint(30, 3 * 86400)) if rng.random() < 0.6 else None
        back = removed + timedelta(days=rng.randint(1, 20)) if removed and rng.random() < 0.1 else None
        status = "reappeared" if back else ("removed" if removed else rng.choice(["sent", "acknowledged", "rejected"]))
        TakedownRequest.objects.filter(pk=request.pk).update(
            platform=platform, sent_at=sent, deadline=sent + timedelta(hours=rng.choice([24, 48, 72])), removed_at=removed,
            acknowledged_at=answered, reappeared_at=back, status=status, escalation_level=rng.choice([0, 0, 0, 1]),
        )  # fmt: skip
        made.append(request)
    return made


def _direct(filters: Filters) -> dict[str, tuple]:
    """The figures counted straight from the requests, by the definitions in docs/compliance.md."""
    now = timezone.now()
    zone = timezone.get_current_timezone()
    out = {}
    for name in ("Alpha", "Beta", "Gamma"):
        rows = [
            r for r in TakedownRequest.objects.filter(platform__name=name, sent_at__isnull=False).select_related("case")
            if filters.since <= timezone.localtime(r.sent_at, zone).date() < filters.until
            and (not filters.category or r.case.category == filters.category)
        ]  # fmt: skip
        removed = [r for r in rows if r.removed_at]
        hours = [int((r.removed_at - r.sent_at).total_seconds()) / 3600 for r in removed]
        answers = [int((r.acknowledged_at - r.sent_at).total_seconds()) / 3600 for r in rows if r.acknowledged_at]
        decided = [r for r in rows if r.removed_at or (r.deadline and r.deadline < now)]
        in_time = [r for r in removed if r.removed_at <= r.deadline]
        overdue = [r for r in rows if r.status in ("queued", "sent", "acknowledged", "reappeared") and r.deadline < now]

        def h(value):
            return round(value, 2) if value is not None else None

        out[name] = (
            len(rows), len(removed), h(nearest_rank(hours, 0.5)), h(nearest_rank(hours, 0.9)),
            round(len(in_time) / len(decided), 4) if decided else None, len(overdue), h(nearest_rank(answers, 0.5)),
            sum(1 for r in rows if r.reappeared_at), sum(1 for r in rows if r.escalation_level),
        )  # fmt: skip
    return out


def _figures(filters: Filters) -> dict[str, tuple]:
    return {
        r.platform: (r.requests, r.removed, r.median_hours_to_removal, r.p90_hours_to_removal, r.within_sla_rate, r.overdue,
                     r.median_hours_to_first_answer, r.reappeared, r.escalations)
        for r in platform_figures(filters)
    }  # fmt: skip


def test_rollup_figures_equal_the_direct_count(caseworker, platforms) -> None:
    _random_requests(caseworker, platforms)
    assert ComplianceDirty.objects.exists()  # the triggers saw every change
    rollup.refresh()
    assert not ComplianceDirty.objects.exists()
    assert ComplianceDay.objects.count() > 50  # one row per day, platform and category
    for filters in (
        PERIOD,
        Filters(since=date(2026, 3, 1), until=date(2026, 3, 20)),
        Filters(**{**PERIOD.__dict__, "category": "deepfake"}),
    ):
        direct = {k: v for k, v in _direct(filters).items() if v[0]}
        assert _figures(filters) == direct
    # The demo's row-by-row path (SQLite) and PostgreSQL's grouped one agree on everything.
    assert summary(PERIOD, in_sql=False) == summary(PERIOD, in_sql=True)
    # Removals per week (Monday, Seoul time) of the requests sent in the period.
    weeks: dict[date, int] = {}
    for r in TakedownRequest.objects.filter(removed_at__isnull=False):
        if PERIOD.since <= timezone.localtime(r.sent_at).date() < PERIOD.until:
            day = timezone.localtime(r.removed_at).date()
            monday = day - timedelta(days=day.weekday())
            weeks[monday] = weeks.get(monday, 0) + 1
    assert summary(PERIOD).removals_by_week == sorted(weeks.items())
    # A full rebuild gives the same roll-up.
    before = _figures(PERIOD)
    rollup.rebuild_all()
    assert _figures(PERIOD) == before


def test_every_kind_of_change_reaches_the_figures(caseworker, platforms) -> None:
    alpha, beta, _gamma = platforms
    case = factories.make_case(caseworker, category="deepfake")
    request = services.takedown_create(case=case, url="https://alpha.example/1", acting_user=caseworker)
    TakedownRequest.objects.filter(pk=request.pk).update(
        platform=alpha, sent_at=T0, deadline=T0 + timedelta(hours=24), status="sent"
    )
    rollup.refresh()
    [row] = platform_figures(PERIOD)
    assert (row.platform, row.requests, row.removed, row.renotices) == ("Alpha", 1, 0, 0)

    # Removed after 3 hours (a bulk update, as the re-check batches write).
    TakedownRequest.objects.filter(pk=request.pk).update(removed_at=T0 + timedelta(hours=3), status="removed")
    rollup.refresh()
    [row] = platform_figures(PERIOD)
    assert (row.removed, row.median_hours_to_removal, row.within_sla_rate) == (1, 3.0, 1.0)

    # A re-notice counts once delivered.
    notice = Notice.objects.create(request=request, kind="resend", channel="email", body="-", status="pending")
    rollup.refresh()
    assert platform_figures(PERIOD)[0].renotices == 0
    Notice.objects.filter(pk=notice.pk).update(status="delivered")
    rollup.refresh()
    assert platform_figures(PERIOD)[0].renotices == 1
    assert list(drilldown(PERIOD, "renotices")) == [request]  # and the figure drills down to it

    # The case's category changes: the request moves with it.
    Case.objects.filter(pk=case.pk).update(category="sextortion")
    rollup.refresh()
    assert platform_figures(Filters(**{**PERIOD.__dict__, "category": "deepfake"})) == []
    assert platform_figures(Filters(**{**PERIOD.__dict__, "category": "sextortion"}))[0].requests == 1

    # Moved to another platform; then a rescheduled re-check alone marks nothing.
    TakedownRequest.objects.filter(pk=request.pk).update(platform=beta)
    rollup.refresh()
    assert [r.platform for r in platform_figures(PERIOD)] == ["Beta"]
    TakedownRequest.objects.filter(pk=request.pk).update(next_check_at=timezone.now())
    assert not ComplianceDirty.objects.exists()

    # Sent on another day, then deleted (as the retention purge does).
    TakedownRequest.objects.filter(pk=request.pk).update(sent_at=T0 - timedelta(days=200))
    rollup.refresh()
    assert platform_figures(PERIOD) == []
    old = Filters(since=date(2025, 8, 1), until=date(2025, 9, 1))
    assert platform_figures(old)[0].requests == 1
    Notice.objects.filter(request=request).delete()
    TakedownRequest.objects.filter(pk=request.pk).delete()
    rollup.refresh()
    assert platform_figures(old) == []


def test_overdue_follows_the_clock_without_any_write(caseworker, platforms, monkeypatch) -> None:
    case = factories.make_case(caseworker)
    request = services.takedown_create(case=case, url="https://alpha.example/2", acting_user=caseworker)
    sent = timezone.now() - timedelta(hours=1)
    TakedownRequest.objects.filter(pk=request.pk).update(
        platform=platforms[0], sent_at=sent, deadline=sent + timedelta(hours=24), status="sent"
    )
    rollup.refresh()
    today = Filters(since=timezone.localdate() - timedelta(days=1), until=timezone.localdate() + timedelta(days=1))
    assert (platform_figures(today)[0].overdue, platform_figures(today)[0].within_sla_rate) == (0, None)
    later = timezone.now() + timedelta(hours=30)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert not ComplianceDirty.objects.exists()
    assert (platform_figures(today)[0].overdue, platform_figures(today)[0].within_sla_rate) == (1, 0.0)


def test_distribution_of_time_to_removal_and_every_chart(caseworker, platforms, central, client_for) -> None:
    case = factories.make_case(caseworker)
    # Alpha removes after 30 min, 2 h, 2 h, 30 h and 10 days; one never.
    for i, hours in enumerate([0.5, 2, 2, 30, 240, None]):
        request = services.takedown_create(case=case, url=f"https://alpha.example/d{i}", acting_user=caseworker)
        TakedownRequest.objects.filter(pk=request.pk).update(
            platform=platforms[0], sent_at=T0, deadline=T0 + timedelta(hours=24), status="removed" if hours else "sent",
            removed_at=T0 + timedelta(hours=hours) if hours else None,
        )  # fmt: skip
    rollup.refresh()
    assert summary(PERIOD).distribution == [("Alpha", [1, 2, 0, 1, 0, 1])]

    analyst = client_for(factories.make_user("analyst", central))
    query = {"since": "2026-02-01", "until": "2026-05-01"}
    page = analyst.get("/compliance/", query).content.decode()
    for name in ("removals-by-week", "time-to-removal", "deadline-compliance", "reappearances-by-week"):
        svg = analyst.get(f"/compliance/charts/{name}.svg", query)
        assert svg["Content-Type"] == "image/svg+xml"
        assert svg.content.startswith(b"<svg")
        assert analyst.get(f"/compliance/charts/{name}.csv", query)["Content-Type"].startswith("text/csv")
    assert 'data-testid="chart-time-to-removal"' in page
    distribution_csv = analyst.get("/compliance/charts/time-to-removal.csv", query).content.decode("utf-8-sig")
    assert distribution_csv.splitlines()[1] == "Alpha,1,2,0,1,0,1"
    assert charts.stacked([("Beta", [0, 0, 0, 0, 0, 0])], title="x") == ""  # nothing removed, nothing drawn
    assert analyst.get("/compliance/charts/unknown.svg", query).status_code == 404
    assert client_for(caseworker).get("/compliance/charts/time-to-removal.csv", query).status_code == 404
