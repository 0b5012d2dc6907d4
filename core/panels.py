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
