"""Reads on takedowns, scoped through the cases the user may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet

from cases.selectors import cases_visible_to
from core.errors import NotFound
from takedowns.models import Platform, TakedownRequest


def requests_visible_to(user: Any) -> QuerySet[TakedownRequest]:
    return TakedownRequest.objects.filter(case__in=cases_visible_to(user)).select_related("case", "platform")


def request_get(*, user: Any, pk: Any) -> TakedownRequest:
    try:
        return requests_visible_to(user).get(pk=int(pk))
    except (TakedownRequest.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Takedown request not found.") from exc


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host


class PlatformMatcher:
    """Longest matching domain wins: a URL belongs to the platform whose domain equals its host
    or is a parent domain of it. Built once per bulk operation."""

    def __init__(self, platforms: list[Platform] | None = None) -> None:
        self.by_domain: dict[str, Platform] = {}
        for platform in platforms if platforms is not None else Platform.objects.all():
            for domain in platform.domains or []:
                self.by_domain[str(domain).lower().strip().rstrip(".")] = platform

    def match(self, host: str) -> Platform | None:
        host = host.lower().rstrip(".")
        if host in self.by_domain:
            return self.by_domain[host]
        # IP addresses match only exactly; names also through their parent domains.
        if host.replace(".", "").isdigit() or ":" in host:
            return None
        parts = host.split(".")
        for i in range(1, len(parts) - 0):
            candidate = ".".join(parts[i:])
            if candidate in self.by_domain:
                return self.by_domain[candidate]
        return None


def platform_for_url(url: str) -> Platform | None:
    return PlatformMatcher().match(host_of(url))
