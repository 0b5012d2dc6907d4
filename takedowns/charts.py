"""The compliance charts, drawn as plain SVG on the server: no script, no external asset, text in
the page's language, each bar with a <title> so screen readers and hover show the number. The same
SVG is embedded in the dashboard and served as a download; the data behind each chart is its CSV.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from django.utils.translation import gettext as _

from takedowns.compliance import DISTRIBUTION_BUCKETS, Summary

BLUE = "#2f5d8a"
# Colour-blind-safe sequence (Okabe–Ito), fast removals first, slowest last.
BUCKET_COLOURS = ["#009E73", "#56B4E9", "#0072B2", "#E69F00", "#D55E00", "#7f1d1d"]
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', 'Noto Sans KR', 'Malgun Gothic', sans-serif\""


@dataclass(frozen=True)
class Chart:
    name: str  # the download's file name
    title: str
    svg: str  # "" when there is nothing to draw
    header: list[str]
    rows: list[list[Any]]


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" {FONT}><title>{escape(title)}</title>'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>{body}</svg>'
    )


def empty(title: str, width: int = 560, height: int = 60) -> str:
    """What a download holds when the period has nothing to draw: a chart that says so."""
    text = escape(_("Nothing to show in this period."))
    return _svg(width, height, title, f'<text x="8" y="34" font-size="13" fill="#333">{text}</text>')


def columns(points: list[tuple[str, int]], *, title: str, width: int = 560, height: int = 220) -> str:
    """Vertical bars over time (weeks)."""
    if not points:
        return ""
    top = max(n for _label, n in points) or 1
    step = (width - 40) / len(points)
    label_every = max(1, round(len(points) / 12))  # about a dozen labels, never a smear of dates
    highest = escape(_("Highest: %(n)s") % {"n": top})
    parts = [
        f'<text x="4" y="14" font-size="11" fill="#333">{highest}</text>',
        f'<line x1="30" y1="{height - 22}" x2="{width}" y2="{height - 22}" stroke="#999"/>',
    ]
    for i, (label, n) in enumerate(points):
        h = (height - 50) * n / top
        bar = min(max(step - 3, 1.5), 48)  # a lone week is a bar, not a wall
        x = 30 + i * step + (step - bar) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{height - 22 - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{BLUE}">'
            f"<title>{escape(label)}: {n}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#333">'
                f"{escape(label)}</text>"
            )
    return _svg(width, height, title, "".join(parts))


def hbars(points: list[tuple[str, float]], *, title: str, unit: str = "%", width: int = 560) -> str:
    """Horizontal bars, one per platform (long names stay readable), values 0..100."""
    if not points:
        return ""
    row, left = 22, 140
    height = 24 + row * len(points)
    parts = []
    for i, (label, value) in enumerate(points):
        y = 12 + i * row
        w = (width - left - 60) * max(0.0, min(value, 100.0)) / 100
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" font-size="12" text-anchor="end" fill="#222">{escape(label[:24])}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{BLUE}">'
            f"<title>{escape(label)}: {value:g}{unit}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 14}" font-size="12" fill="#222">{value:g}{unit}</text>'
        )
    return _svg(width, height, title, "".join(parts))


def bucket_labels() -> list[str]:
    hours = DISTRIBUTION_BUCKETS

    def span(h: int) -> str:
        return _("%(n)s h") % {"n": h} if h < 24 else _("%(n)s d") % {"n": h // 24}

    labels = [_("up to %(t)s") % {"t": span(hours[0])}]
    labels += [f"{span(a)}–{span(b)}" for a, b in itertools.pairwise(hours)]
    labels.append(_("over %(t)s") % {"t": span(hours[-1])})
    return labels


def stacked(rows: list[tuple[str, list[int]]], *, title: str, width: int = 560) -> str:
    """Per platform, the share of its removals in each time bucket: 100% stacked horizontal bars."""
    rows = [(name, counts) for name, counts in rows if sum(counts)]
    if not rows:
        return ""
    labels = bucket_labels()
    row, left = 22, 140
    legend_h = 44
    height = legend_h + 16 + row * len(rows)
    parts = []
    for i, (label, colour) in enumerate(zip(labels, BUCKET_COLOURS, strict=True)):
        lx, ly = 4 + (i % 3) * (width // 3), 4 + (i // 3) * 20
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{ly + 10}" font-size="12" fill="#222">{escape(label)}</text>'
        )
    for i, (name, counts) in enumerate(rows):
        y = legend_h + 8 + i * row
        total = sum(counts)
        parts.append(f'<text x="{left - 6}" y="{y + 14}" font-size="12" text-anchor="end" fill="#222">{escape(name[:24])}</text>')
        x = float(left)
        for label, colour, n in zip(labels, BUCKET_COLOURS, counts, strict=True):
            w = (width - left - 10) * n / total
            if n:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{colour}">'
                    f"<title>{escape(name)}, {escape(label)}: {n} ({n / total:.0%})</title></rect>"
                )
            x += w
    return _svg(width, height, title, "".join(parts))


def _week_label(week: date) -> str:
    return week.strftime("%m-%d")


def build(summary: Summary) -> dict[str, Chart]:
    """The dashboard's four charts, by download name."""
    removal_title = _("Removals by week")
    distribution_title = _("Time to removal, per platform")
    deadline_title = _("Share removed within the deadline, per platform")
    reappear_title = _("Reappearances by week")
    deadline_points = [
        (r.platform, round((r.within_sla_rate or 0) * 100, 1)) for r in summary.rows if r.within_sla_rate is not None
    ]
    charts = [
        Chart(
            "removals-by-week", removal_title,
            columns([(_week_label(w), n) for w, n in summary.removals_by_week], title=removal_title),
            ["week", "removed"], [[w.isoformat(), n] for w, n in summary.removals_by_week],
        ),
        Chart(
            "time-to-removal", distribution_title, stacked(summary.distribution, title=distribution_title),
            ["platform", *bucket_labels()], [[name, *counts] for name, counts in summary.distribution],
        ),
        Chart(
            "deadline-compliance", deadline_title, hbars(deadline_points, title=deadline_title),
            ["platform", "within_deadline_percent"], [[name, value] for name, value in deadline_points],
        ),
        Chart(
            "reappearances-by-week", reappear_title,
            columns([(_week_label(w), n) for w, n in summary.reappearances_by_week], title=reappear_title),
            ["week", "reappeared"], [[w.isoformat(), n] for w, n in summary.reappearances_by_week],
        ),
    ]  # fmt: skip
    return {chart.name: chart for chart in charts}
