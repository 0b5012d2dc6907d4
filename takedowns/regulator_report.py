"""A printable report on one platform for a regulator (KCSC, eSafety, Ofcom ...): HTML and PDF.

`build_report` gathers the data once; `report_html` and `report_pdf` draw it. The figures are
the dashboard's own (takedowns.compliance), so the two never disagree. The overdue and reappeared
requests carry their history: notices (kind, channel, status, delivered time, delivery attempts)
and the re-checks' outcomes with their times. Of the case only its reference is read: no victim,
no media, no case summary, and no notice text (a notice body quotes the case).

Who sees what (docs/compliance.md): the figures and the lists cover every centre, but a request's
address and case reference are shown only to a supervisor of the case's centre; everyone else
(analysts, administrators, supervisors of other centres) sees the host and a keyed hash of the
address (takedowns.compliance.url_pseudonym) and no case reference.

Access: analysts, supervisors and admins (core.roles.COMPLIANCE_ROLES); anyone else gets 404.
Every report drawn is written to the audit log, since it leaves the centre.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import BadRequest
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

from core import audit
from core.roles import COMPLIANCE_ROLES
from takedowns import compliance, rollup
from takedowns.compliance_views import FilterForm
from takedowns.jurisdictions import legal_basis, resolve
from takedowns.models import OPEN_STATUSES, Check, Notice, Platform, TakedownRequest

# At most this many requests per list; the report says how many more there are.
LIST_LIMIT = 500
PDF_FONT = "HYSMyeongJo-Medium"  # Adobe CID font shipped with reportlab: Korean, Latin, hanja, kana
DEFAULT_DAYS = 365


# Data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeEntry:
    kind: str
    channel: str
    status: str
    created_at: datetime
    delivered_at: datetime | None
    attempts: int  # delivery attempts logged for this notice


@dataclass(frozen=True)
class CheckRun:
    """Consecutive re-checks with the same outcome: one line instead of dozens of "still up"."""

    outcome: str
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class RequestEntry:
    id: int
    url: str  # "" unless the viewer may open the case
    host: str
    url_pseudonym: str  # a keyed hash of the address: the same page, the same value
    case_reference: str  # "" unless the viewer may open the case
    status: str
    sent_at: datetime | None
    deadline: datetime | None
    removed_at: datetime | None
    reappeared_at: datetime | None
    hours_overdue: float | None  # open and past its deadline: by how many hours, at generation time
    overdue_text: str  # the same in words ("overdue by 3.5 h", "overdue by 12.0 days"); "" when not overdue
    notices: tuple[NoticeEntry, ...]
    notices_text: str  # "2 notices, 3 delivery attempts"
    checks: tuple[CheckRun, ...]
    check_count: int
    checks_text: str  # "3 checks by the centre"

    @property
    def attempts(self) -> int:
        return sum(n.attempts for n in self.notices)


@dataclass(frozen=True)
class RequestList:
    key: str  # "overdue" or "reappeared"
    title: str
    description: str
    entries: tuple[RequestEntry, ...]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.entries)


@dataclass(frozen=True)
class FigureRow:
    label: str
    value: str
    definition: str


@dataclass(frozen=True)
class RegulatorReport:
    platform_id: int
    platform_name: str
    jurisdiction: str  # the platform's code as stored (e.g. "GB")
    jurisdiction_name: str  # the table entry it resolves to (e.g. "United Kingdom")
    legal_basis: str
    sla_hours: int
    regulator: str
    since: date
    until: date  # exclusive
    figures: compliance.Figures
    figure_rows: tuple[FigureRow, ...]
    overdue: RequestList
    reappeared: RequestList
    centre_name: str
    generated_at: datetime  # in the centre's time zone
    time_zone: str

    @property
    def last_day(self) -> date:
        return self.until - timedelta(days=1)

    @property
    def lists(self) -> tuple[RequestList, RequestList]:
        return (self.overdue, self.reappeared)


def centre_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return timezone.localtime(value, zone) if value is not None else None


def _percent(rate: float | None) -> str:
    return f"{rate:.1%}" if rate is not None else "–"


def _hours(hours: float | None) -> str:
    return f"{hours:.1f}" if hours is not None else "–"


def _figure_rows(f: compliance.Figures) -> tuple[FigureRow, ...]:
    """Labels as on the dashboard; the definitions are docs/compliance.md's, shortened."""
    return (
        FigureRow(_("Requests"), str(f.requests), _("Takedown requests whose first notice was delivered in the period.")),
        FigureRow(
            _("Removed"), str(f.removed),
            _("Of those, found removed by the centre's own re-check. A platform's word alone does not count as removal."),
        ),
        FigureRow(_("Removal rate"), _percent(f.removal_rate), _("Removed divided by requests.")),
        FigureRow(
            _("Median hours to removal"), _hours(f.median_hours_to_removal),
            _("From the notice's delivery to the check that found the material gone (nearest-rank median)."),
        ),
        FigureRow(_("90th percentile hours"), _hours(f.p90_hours_to_removal), _("The same, 90th percentile (nearest rank).")),
        FigureRow(
            _("Within deadline"), _percent(f.within_sla_rate),
            _("Removed by the deadline, divided by the requests removed or already past their deadline."),
        ),
        FigureRow(_("Overdue now"), str(f.overdue), _("Still open now, and past the deadline.")),
        FigureRow(
            _("Median hours to first answer"), _hours(f.median_hours_to_first_answer),
            _("From delivery to the platform's first answer through its notice interface."),
        ),
        FigureRow(_("Reappeared"), str(f.reappeared), _("Material that came back after it had been removed.")),
        FigureRow(_("Reappearance rate"), _percent(f.reappearance_rate), _("Reappeared divided by removed.")),
        FigureRow(
            _("Repeat notices"), str(f.renotices),
            _("Repeat notices delivered (every 24 hours while the material stays up, and on reappearance)."),
        ),
        FigureRow(_("Escalations"), str(f.escalations), _("Requests escalated to a regulator at least once.")),
    )  # fmt: skip


def _overdue_text(hours: float) -> str:
    if hours < 48:
        return _("overdue by %(hours).1f h") % {"hours": hours}
    return _("overdue by %(days).1f days") % {"days": hours / 24}


def _check_runs(checks: Iterable[Check], zone: ZoneInfo) -> tuple[CheckRun, ...]:
    runs: list[CheckRun] = []
    codes: list[str] = []
    for check in checks:
        at = timezone.localtime(check.at, zone)
        if codes and codes[-1] == check.outcome:
            last = runs[-1]
            runs[-1] = CheckRun(outcome=last.outcome, count=last.count + 1, first_at=last.first_at, last_at=at)
        else:
            codes.append(check.outcome)
            runs.append(CheckRun(outcome=check.get_outcome_display(), count=1, first_at=at, last_at=at))
    return tuple(runs)


def _entries(
    qs: QuerySet[TakedownRequest], *, now: datetime, zone: ZoneInfo, viewer: Any
) -> tuple[tuple[RequestEntry, ...], int]:
    total = qs.count()
    notice_rows = (
        Notice.objects.only("id", "request_id", "kind", "channel", "status", "created_at", "delivered_at")
        .annotate(logged_attempts=Count("attempts_log"))
        .order_by("created_at", "id")
    )
    check_rows = Check.objects.only("id", "request_id", "at", "outcome").order_by("at", "id")
    rows = list(
        qs.select_related("case")
        .only("id", "url", "url_key", "status", "sent_at", "deadline", "removed_at", "reappeared_at", "case__reference")
        .prefetch_related(Prefetch("notices", queryset=notice_rows), Prefetch("checks", queryset=check_rows))[:LIST_LIMIT]
    )
    mine = compliance.visible_case_ids(viewer, {row.case_id for row in rows})
    entries = []
    for row in rows:
        address = compliance.address_for(row, visible=row.case_id in mine)
        hours = (now - row.deadline).total_seconds() / 3600 if row.deadline is not None else 0.0
        overdue = row.status in OPEN_STATUSES and row.deadline is not None and hours > 0
        notices = tuple(
            NoticeEntry(
                kind=n.get_kind_display(),
                channel=n.get_channel_display(),
                status=n.get_status_display(),
                created_at=timezone.localtime(n.created_at, zone),
                delivered_at=_local(n.delivered_at, zone),
                attempts=getattr(n, "logged_attempts", 0),
            )
            for n in row.notices.all()
        )
        attempts = sum(n.attempts for n in notices)
        check_count = len(row.checks.all())
        entries.append(
            RequestEntry(
                id=row.pk,
                url=address.url,
                host=address.host,
                url_pseudonym=address.pseudonym,
                case_reference=row.case.reference if row.case_id in mine else "",
                status=row.get_status_display(),
                sent_at=_local(row.sent_at, zone),
                deadline=_local(row.deadline, zone),
                removed_at=_local(row.removed_at, zone),
                reappeared_at=_local(row.reappeared_at, zone),
                hours_overdue=round(hours, 1) if overdue else None,
                overdue_text=_overdue_text(hours) if overdue else "",
                notices=notices,
                notices_text=ngettext("%(n)s notice", "%(n)s notices", len(notices)) % {"n": len(notices)}
                + ", "
                + ngettext("%(n)s delivery attempt", "%(n)s delivery attempts", attempts) % {"n": attempts},
                checks=_check_runs(row.checks.all(), zone),
                check_count=check_count,
                checks_text=ngettext("%(n)s check by the centre", "%(n)s checks by the centre", check_count) % {"n": check_count},
            )
        )
    return tuple(entries), total


def build_report(
    platform: Platform, *, since: date, until: date, now: datetime | None = None, viewer: Any = None
) -> RegulatorReport:
    """The report's data for `platform`, requests sent in [since, until), in the active language.
    Addresses and case references only of the cases `viewer` may open (none when no viewer)."""
    now = now or timezone.now()
    zone = centre_zone()
    filters = compliance.Filters(since=since, until=until, platform_id=platform.pk)
    rollup.refresh_if_dirty()
    scope = compliance.scoped(filters)
    figures = compliance.figures_for_platform(filters, platform)
    overdue, overdue_total = _entries(
        scope.filter(status__in=OPEN_STATUSES, deadline__lt=now).order_by("deadline", "pk"), now=now, zone=zone, viewer=viewer
    )
    reappeared, reappeared_total = _entries(
        scope.filter(reappeared_at__isnull=False).order_by("reappeared_at", "pk"), now=now, zone=zone, viewer=viewer
    )
    entry = resolve(platform.jurisdiction)
    return RegulatorReport(
        platform_id=platform.pk,
        platform_name=platform.name,
        jurisdiction=platform.jurisdiction,
        jurisdiction_name=entry.name,
        legal_basis=legal_basis(platform.jurisdiction, get_language() or "en"),
        sla_hours=platform.sla_hours,
        regulator=platform.escalation_name,
        since=since,
        until=until,
        figures=figures,
        figure_rows=_figure_rows(figures),
        overdue=RequestList(
            key="overdue",
            title=_("Overdue requests"),
            description=_("Open now (the centre has not found the material removed) and past their deadline."),
            entries=overdue,
            total=overdue_total,
        ),
        reappeared=RequestList(
            key="reappeared",
            title=_("Reappeared requests"),
            description=_("Removed, then found online again by the centre's re-check."),
            entries=reappeared,
            total=reappeared_total,
        ),
        centre_name=settings.CENTRE_NAME,
        generated_at=timezone.localtime(now, zone),
        time_zone=str(zone),
    )


# Views -----------------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[date, date]:
    """since/until as on the dashboard (dates, until exclusive); by default the last 365 days."""
    today = timezone.localdate()
    form = FilterForm(request.GET)
    if not form.is_valid():
        raise BadRequest(_("Give the period as dates (YYYY-MM-DD)."))
    since = form.cleaned_data.get("since") or today - timedelta(days=DEFAULT_DAYS)
    until = form.cleaned_data.get("until") or today + timedelta(days=1)
    if since >= until:
        raise BadRequest(_("The start of the period must come before its end."))
    return since, until


def _report(request: HttpRequest, platform_pk: int) -> RegulatorReport:
    if getattr(request.user, "role", None) not in COMPLIANCE_ROLES:
        raise Http404
    platform = get_object_or_404(Platform, pk=platform_pk)
    since, until = _period(request)
    return build_report(platform, since=since, until=until, viewer=request.user)


def _record(request: HttpRequest, report: RegulatorReport, fmt: str) -> None:
    """The report names case references and leaves the centre: who drew which one is kept."""
    audit.record_now(
        "compliance.regulator_report", actor=request.user, object_type="takedowns.platform", object_id=report.platform_id,
        details={"format": fmt, "since": report.since.isoformat(), "until": report.until.isoformat(),
                 "overdue": report.overdue.total, "reappeared": report.reappeared.total},
    )  # fmt: skip


def report_html(request: HttpRequest, platform_pk: int) -> HttpResponse:
    report = _report(request, platform_pk)
    query = f"since={report.since.isoformat()}&until={report.until.isoformat()}"
    response = render(request, "takedowns/regulator_report.html", {"report": report, "query": query})
    _record(request, report, "html")
    return response


def report_pdf(request: HttpRequest, platform_pk: int) -> HttpResponse:
    report = _report(request, platform_pk)
    response = HttpResponse(render_pdf(report), content_type="application/pdf")
    name = slugify(report.platform_name) or f"platform-{report.platform_id}"
    filename = f"regulator-report-{name}-{report.since.isoformat()}-{report.last_day.isoformat()}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    _record(request, report, "pdf")
    return response


# PDF -------------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "–"


@cache
def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


def render_pdf(report: RegulatorReport) -> bytes:
    """The report as an A4 PDF. Text is set in the CID font so Korean renders (viewers supply the
    glyphs: Adobe CID fonts are referenced, not embedded)."""
    # Imported here so that the rest of the site (and the HTML report) runs without reportlab.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=9, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=10)
    muted = ParagraphStyle("muted", parent=small, textColor=colors.HexColor("#5a6473"))
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4)
    h3 = ParagraphStyle("h3", parent=body, fontSize=10, leading=13, spaceBefore=8, spaceAfter=2)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    keys = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[Any]], widths: list[float], style: TableStyle = grid, header: bool = True) -> Table:
        cells = [[p(c, small) for c in row] for row in rows]
        return Table(cells, colWidths=widths, style=style, repeatRows=1 if header else 0, hAlign="LEFT")

    width = A4[0] - 30 * mm

    def entry_flowables(entry: RequestEntry) -> list[Any]:
        deadline = _when(entry.deadline) + (f" · {entry.overdue_text}" if entry.overdue_text else "")
        facts = [
            [_("Address"), entry.url or f"{entry.host} · {entry.url_pseudonym}"],
            [_("Case reference"), entry.case_reference or _("(another centre's case, or not yours to open)")],
            [_("Status"), entry.status],
            [_("Sent"), _when(entry.sent_at)],
            [_("Deadline"), deadline],
        ]
        if entry.removed_at:
            facts.append([_("Found removed"), _when(entry.removed_at)])
        if entry.reappeared_at:
            facts.append([_("Found again"), _when(entry.reappeared_at)])
        out: list[Any] = [
            p(f"{_('Request')} #{entry.id}", h3),
            table(facts, [35 * mm, width - 35 * mm], style=keys, header=False),
        ]
        notices: list[list[Any]] = [[_("Notice"), _("Channel"), _("Status"), _("Created"), _("Delivered"), _("Attempts")]]
        notices += [[n.kind, n.channel, n.status, _when(n.created_at), _when(n.delivered_at), n.attempts] for n in entry.notices]
        out.append(p(entry.notices_text, small))
        if entry.notices:
            out.append(table(notices, [38 * mm, 30 * mm, 30 * mm, 29 * mm, 29 * mm, width - 156 * mm]))
        out.append(p(entry.checks_text, small))
        if entry.checks:
            checks: list[list[Any]] = [[_("Outcome"), _("Checks"), _("First"), _("Last")]]
            checks += [[c.outcome, c.count, _when(c.first_at), _when(c.last_at)] for c in entry.checks]
            out.append(table(checks, [45 * mm, 20 * mm, 35 * mm, 35 * mm]))
        out.append(Spacer(1, 3 * mm))
        return out

    prepared = _("Prepared by %(centre)s on %(when)s (%(zone)s).") % {
        "centre": report.centre_name, "when": _when(report.generated_at), "zone": report.time_zone,
    }  # fmt: skip
    period = _("%(first)s to %(last)s, both days included") % {"first": report.since, "last": report.last_day}
    story: list[Any] = [
        p(report.centre_name, muted),
        p(f"{_('Regulator report')}: {report.platform_name}", h1),
        table(
            [
                [_("Platform"), report.platform_name],
                [_("Jurisdiction"), f"{report.jurisdiction_name} ({report.jurisdiction})"],
                [
                    _("Deadline asked of the platform"),
                    ngettext("%(n)s hour", "%(n)s hours", report.sla_hours) % {"n": report.sla_hours},
                ],
                [_("Regulator"), report.regulator or "–"],
                [_("Period (first notice delivered)"), period],
            ],
            [55 * mm, width - 55 * mm],
            style=keys,
            header=False,
        ),
        p(prepared, muted),
        p(_("Legal basis"), h2),
        p(report.legal_basis),
        p(_("Figures"), h2),
        table(
            [[_("Figure"), pgettext("figure", "Value"), _("Definition")]]
            + [[r.label, r.value, r.definition] for r in report.figure_rows],
            [50 * mm, 22 * mm, width - 72 * mm],
        ),
    ]
    for section in report.lists:
        story += [p(f"{section.title} ({section.total})", h2), p(section.description, muted)]
        if section.truncated:
            story.append(
                p(_("Showing the first %(shown)s of %(total)s.") % {"shown": len(section.entries), "total": section.total})
            )
        if not section.entries:
            story.append(p(_("None in this period.")))
        for entry in section.entries:
            story += entry_flowables(entry)
    story += [Spacer(1, 6 * mm), p(prepared, muted), p(_("All times are in %(zone)s.") % {"zone": report.time_zone}, muted)]

    footer = f"{report.centre_name} · {report.platform_name} · {_when(report.generated_at)} {report.time_zone}"

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(PDF_FONT, 7)
        canvas.setFillColor(colors.HexColor("#5a6473"))
        canvas.drawString(15 * mm, 8 * mm, footer)
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, _("Page %(n)s") % {"n": doc.page})
        canvas.restoreState()

    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=16 * mm,
        title=f"{_('Regulator report')}: {report.platform_name}", author=report.centre_name, subject=period,
        creator=report.centre_name, lang=get_language() or "en",
    )  # fmt: skip
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
