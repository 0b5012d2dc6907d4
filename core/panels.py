"""Sections that later apps add to the case page, without cases importing them.

Dependencies run one way (cases <- evidence <- takedowns), so the case page cannot import the
evidence app. Instead each app registers a provider here in its AppConfig.ready(); the case page
asks for the panels and includes their templates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass
class Panel:
    template: str
    order: int = 100
    context: dict[str, Any] = field(default_factory=dict)


_case_panel_providers: list[Callable[[HttpRequest, Any], Panel | None]] = []


def register_case_panel(provider: Callable[[HttpRequest, Any], Panel | None]) -> None:
    if provider not in _case_panel_providers:
        _case_panel_providers.append(provider)


def case_panels(request: HttpRequest, case: Any) -> list[Panel]:
    panels = [p for p in (provider(request, case) for provider in _case_panel_providers) if p is not None]
    return sorted(panels, key=lambda p: p.order)


# "My work": the home page of caseworkers and supervisors. Each app answers, for one person, what
# is waiting for them in its part of the work, as counts with a link to the list behind each, so
# the page needs no import upward (cases, takedowns) and a new app adds its own items.


@dataclass
class WorkItem:
    key: str  # stable name: the page's anchors and tests use it
    label: str  # in the reader's language
    count: int
    url: str  # the list behind the count, filtered to exactly these items
    order: int = 100
    # Shown first and marked when the count is not zero: deadlines passed, material back online.
    urgent: bool = False
    hint: str = ""


_work_sources: list[Callable[[Any], list[WorkItem]]] = []


def register_work_source(source: Callable[[Any], list[WorkItem]]) -> None:
    if source not in _work_sources:
        _work_sources.append(source)


def work_items(user: Any) -> list[WorkItem]:
    items = [item for source in _work_sources for item in source(user)]
    return sorted(items, key=lambda i: (not (i.urgent and i.count), i.order))
