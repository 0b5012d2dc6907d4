"""Platforms with only a web form: the notice waits in a staff queue with copy-ready text."""

from __future__ import annotations

from typing import Any

from takedowns.transports import Result


def send(notice: Any) -> Result:
    return Result("manual", detail="Waiting for a person to submit the platform's web form.")
