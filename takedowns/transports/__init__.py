"""Delivery channels. Each transport sends one notice and says what happened; it never touches
the database (the caller records the outcome in its own transaction).

To add a platform's own API, write a module here with a `send(notice) -> Result` function and
map the platform to it in `for_notice()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    outcome: str  # delivered | rate_limited | retry | failed | manual
    http_status: int | None = None
    ticket: str = ""
    retry_after_s: float | None = None
    detail: str = ""


def for_notice(notice: Any) -> Any:
    from takedowns.transports import api, email, manual

    return {"api": api, "email": email, "manual": manual}[notice.channel]
