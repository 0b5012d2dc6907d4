"""The regulator report on one platform: what it lists, what it leaves out, who may draw it."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from takedowns import rollup, services
from takedowns.compliance import Filters, platform_figures
from takedowns.models import Check, DeliveryAttempt, Notice, TakedownRequest
from takedowns.regulator_report import build_report
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.takedowns.regulator_urls")]

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
PERIOD = {"since": "2026-03-01", "until": "2026-04-01"}
PSEUDONYM = "Pseudonym Nightingale"
SUMMARY = "Summary that must never reach a regulator"
NOTICE_BODY = "Notice body text quoting the case"


def _request(case, user, url: str, *, sent: datetime = T0, **fields) -> TakedownRequest:
    request = services.takedown_create(case=case, url=url, acting_user=user)
    TakedownRequest.objects.filter(pk=request.pk).update(sent_at=sent, deadline=sent + timedelta(hours=24), **fields)
    request.refresh_from_db()
    return request


def _notice(
    request: TakedownRequest, *, kind: str, delivered: datetime | None, attempts: int, status: str = "delivered"
) -> Notice:
    notice = Notice.objects.create(request=request, kind=kind, channel="email", body=NOTICE_BODY, status=status)
    Notice.objects.filter(pk=notice.pk).update(created_at=(delivered or T0) - timedelta(minutes=5), delivered_at=delivered)
    for _ in range(attempts):
        DeliveryAttempt.objects.create(notice=notice, outcome="delivered" if delivered else "retry")
    return notice


def _check(request: TakedownRequest, outcome: str, at: datetime) -> None:
    check = Check.objects.create(request=request, outcome=outcome, http_status=200 if outcome == "still_up" else 404)
    Check.objects.filter(pk=check.pk).update(at=at)


@pytest.fixture
def data(caseworker):
    platform = services.platform_create(
        acting_user=None, name="Alpha Video", domains=["alpha.example"], channel="email", email="abuse@alpha.example",
        jurisdiction="KR", escalation_name="KCSC", escalation_email="kcsc@example.org",
    )  # fmt: skip
    other = services.platform_create(acting_user=None, name="Beta", domains=["beta.example"], email="b@beta.example")
    case = factories.make_case(caseworker, summary=SUMMARY, victim={"pseudonym": PSEUDONYM, "is_minor": False, "language": "ko"})

    # Sent 2026-03-10 12:00 Seoul, never removed: overdue. Two notices (the first needed a retry), three checks still up.
    overdue = _request(case, caseworker, "https://alpha.example/overdue", status="sent")
    _notice(overdue, kind="initial", delivered=T0, attempts=2)
    _notice(overdue, kind="resend", delivered=T0 + timedelta(hours=24), attempts=1)
    for hours in (6, 12, 30):
        _check(overdue, "still_up", T0 + timedelta(hours=hours))

    # Removed after 5 h, back up on day 3 (open again and past its deadline, so also overdue).
    back = _request(case, caseworker, "https://alpha.example/back", status="reappeared",
                    removed_at=T0 + timedelta(hours=5), reappeared_at=T0 + timedelta(days=3))  # fmt: skip
    _notice(back, kind="initial", delivered=T0, attempts=1)
    _check(back, "removed", T0 + timedelta(hours=5))
    _check(back, "removed", T0 + timedelta(days=1))
    _check(back, "still_up", T0 + timedelta(days=3))

    # Not listed: removed in time; sent before the period; another platform's.
    _request(case, caseworker, "https://alpha.example/fine", status="removed", removed_at=T0 + timedelta(hours=2))
    _request(case, caseworker, "https://alpha.example/old", sent=T0 - timedelta(days=60), status="sent")
    _request(case, caseworker, "https://beta.example/overdue", status="sent")
    rollup.refresh()  # as beat does every minute; the report then only reads
    return platform, other, case, overdue, back


@pytest.fixture
def analyst(central):
    return factories.make_user("analyst", central)


@pytest.fixture
def reader(central):
    """A supervisor of the case's centre: the one who sees addresses and case references in the
    report (analysts see hosts and keyed hashes: tests/security/test_compliance_scope.py)."""
    return factories.make_user("supervisor", central)


def _url(platform, suffix: str = "report/") -> str:
    return f"/compliance/platform/{platform.pk}/{suffix}"


def _pdf_text(content: bytes) -> str:
    """The PDF's text (pypdf when installed), else its uncompressed parts plus the decoded streams."""
    try:
        import pypdf
    except ImportError:
        parts = [content.decode("latin-1")]
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S):
            try:
                import base64

                parts.append(zlib.decompress(base64.a85decode(stream, adobe=True)).decode("latin-1"))
            except (ValueError, zlib.error):
                continue
        return "\n".join(parts)
    from io import BytesIO

    reader = pypdf.PdfReader(BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages) + "\n" + str(reader.metadata.title)


def test_report_data_matches_the_dashboard_figures(data, reader) -> None:
    platform, _other, case, overdue, back = data
    report = build_report(platform, since=date(2026, 3, 1), until=date(2026, 4, 1), viewer=reader)
    dashboard_row = next(
        r for r in platform_figures(Filters(since=date(2026, 3, 1), until=date(2026, 4, 1))) if r.platform_id == platform.pk
    )
    assert report.figures == dashboard_row
    assert (report.figures.requests, report.figures.overdue, report.figures.reappeared) == (3, 2, 1)
    assert [e.id for e in report.overdue.entries] == [overdue.pk, back.pk]
    assert report.overdue.total == report.figures.overdue
    assert [e.id for e in report.reappeared.entries] == [back.pk]
    entry = report.overdue.entries[0]
    assert entry.case_reference == case.reference
    assert [(n.kind, n.attempts) for n in entry.notices] == [("Notice", 2), ("Repeat notice", 1)]
    assert entry.attempts == 3
    assert entry.notices_text == "2 notices, 3 delivery attempts"
    assert re.fullmatch(r"overdue by [\d.]+ days", entry.overdue_text)
    assert report.reappeared.entries[0].notices_text == "1 notice, 1 delivery attempt"
    assert entry.notices[0].delivered_at.strftime("%Y-%m-%d %H:%M %Z") == "2026-03-10 12:00 KST"
    # Consecutive checks with the same outcome are one line: still up x3.
    assert [(c.outcome, c.count) for c in entry.checks] == [("Still up", 3)]
    assert entry.check_count == 3
    reappeared = report.reappeared.entries[0]
    assert [(c.outcome, c.count) for c in reappeared.checks] == [("Removed", 2), ("Still up", 1)]
    assert report.jurisdiction_name == "Republic of Korea"
    assert "Telecommunications Business Act" in report.legal_basis
    assert str(report.generated_at.tzinfo) == "Asia/Seoul"


def test_report_reads_no_victim_or_case_content(data, reader, django_assert_max_num_queries) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    platform = data[0]
    with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(20):
        build_report(platform, since=date(2026, 3, 1), until=date(2026, 4, 1), viewer=reader)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"cases_case"."reference"' in sql
    assert "cases_victim" not in sql
    assert '"cases_case"."summary"' not in sql
    assert '"takedowns_notice"."body"' not in sql
    assert '"takedowns_notice"."recipient"' not in sql


def test_html_lists_overdue_and_reappeared_with_history_and_no_victim_data(data, reader, client_for) -> None:
    platform, _other, case, overdue, _back = data
    response = client_for(reader).get(_url(platform), PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Alpha Video" in html
    assert "KCSC" in html
    assert "Telecommunications Business Act" in html
    assert "2026-03-01 to 2026-03-31, both days included" in html
    overdue_part = html[html.index('data-testid="list-overdue"') : html.index('data-testid="list-reappeared"')]
    reappeared_part = html[html.index('data-testid="list-reappeared"') :]
    assert "https://alpha.example/overdue" in overdue_part
    assert "https://alpha.example/back" in overdue_part  # back up and past its deadline
    assert "https://alpha.example/back" in reappeared_part
    assert "https://alpha.example/overdue" not in reappeared_part
    for absent in ("alpha.example/fine", "alpha.example/old", "beta.example"):
        assert absent not in html
    # History: notices with kind, channel, status, delivered time (Seoul) and attempts; checks with times.
    assert f'data-request="{overdue.pk}"' in html
    assert "Repeat notice" in html
    assert "E-mail" in html
    assert "2026-03-10 12:00" in html  # delivered at 03:00 UTC
    assert "2 notices, 3 delivery attempts" in html
    assert "3 checks by the centre" in html
    assert "Still up" in html
    assert "2026-03-11 18:00" in html  # the third still-up check (30 h after sending)
    assert "2026-03-13 12:00" in html  # found again
    # The case by its reference only.
    assert case.reference in html
    assert PSEUDONYM not in html
    assert SUMMARY not in html
    assert NOTICE_BODY not in html
    assert "abuse@alpha.example" not in html  # not even the notice's recipient
    # Prepared by the centre, timed in its zone; printable under the site CSP.
    assert "Prepared by Digital Sex Crime Victim Support Centre on" in html
    assert "(Asia/Seoul)" in html
    assert "/static/css/print.css" in html
    assert " style=" not in html
    assert "<style" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert AuditEvent.objects.filter(action="compliance.regulator_report", object_id=str(platform.pk)).exists()


def test_pdf_is_an_attachment_with_the_platform_and_the_requests(data, reader, client_for) -> None:
    platform, _other, case, _overdue, _back = data
    response = client_for(reader).get(_url(platform, "report.pdf"), PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="regulator-report-alpha-video-2026-03-01-2026-03-31.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF")
    assert b"HYSMyeongJo-Medium" in response.content
    text = _pdf_text(response.content)
    assert "Alpha Video" in text
    try:
        import pypdf  # noqa: F401
    except ImportError:
        return
    assert case.reference in text
    assert "https://alpha.example/overdue" in text
    assert PSEUDONYM not in text
    assert SUMMARY not in text


def test_pdf_renders_korean(data, analyst, client_for) -> None:
    platform = data[0]
    client = client_for(analyst)
    client.post("/i18n/setlang/", {"language": "ko", "next": "/compliance/"})
    response = client.get(_url(platform, "report.pdf"), PERIOD)
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    pypdf = pytest.importorskip("pypdf")
    from io import BytesIO

    text = "".join(page.extract_text() for page in pypdf.PdfReader(BytesIO(response.content)).pages)
    assert "전기통신사업법" in text  # the legal basis in Korean


def test_only_compliance_roles_see_it(data, central, analyst, caseworker, client_for) -> None:
    platform = data[0]
    for user in (analyst, factories.make_user("supervisor", central), factories.make_user("admin", central)):
        assert client_for(user).get(_url(platform), PERIOD).status_code == 200
    for user in (caseworker, factories.make_user("auditor", central)):
        client = client_for(user)
        assert client.get(_url(platform), PERIOD).status_code == 404
        assert client.get(_url(platform, "report.pdf"), PERIOD).status_code == 404
    analyst_client = client_for(analyst)
    assert analyst_client.get(f"/compliance/platform/{platform.pk + 1000}/report/").status_code == 404


def test_period_defaults_to_the_last_365_days_and_bad_dates_are_refused(data, reader, client_for, caseworker) -> None:
    platform, _other, case, _overdue, _back = data
    recent = _request(case, caseworker, "https://alpha.example/recent", sent=timezone.now() - timedelta(days=2), status="sent")
    client = client_for(reader)
    html = client.get(_url(platform)).content.decode()
    assert recent.url in html
    today = timezone.localdate()
    first, last = today - timedelta(days=365), today
    assert f"{first:%Y-%m-%d} to {last:%Y-%m-%d}, both days included" in html
    # An explicit period leaves the recent request out.
    assert recent.url not in client.get(_url(platform), PERIOD).content.decode()
    assert client.get(_url(platform), {"since": "not-a-date"}).status_code == 400
    assert client.get(_url(platform), {"since": "2026-04-01", "until": "2026-03-01"}).status_code == 400
