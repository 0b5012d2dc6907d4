"""System checks of the evidence app, run by `manage.py check --deploy` (and `make deploy-check`)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register


@register("security", deploy=True)
def probe_sandbox(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production must not find out from a refused upload that the probe's sandbox cannot run here."""
    from evidence import sandbox

    if sandbox.mode() == "off":
        return [
            Warning(
                "EVIDENCE_PROBE_ISOLATION=off: untrusted media are parsed without the sandbox.",
                hint="Install bubblewrap and set EVIDENCE_PROBE_ISOLATION=required (docs/evidence.md).",
                id="evidence.W001",
            )
        ]
    problem = sandbox.isolation_problem()
    if problem is None:
        return []
    if sandbox.mode() == "required":
        return [
            Error(
                f"The media probe's sandbox cannot run on this machine, so every file will be refused: {problem}",
                hint="docs/operations.md, 'The probe's sandbox'; or EVIDENCE_PROBE_ISOLATION=auto to parse unisolated.",
                id="evidence.E001",
            )
        ]
    return [
        Warning(
            f"The media probe's sandbox cannot run here; files are parsed without it: {problem}",
            hint="docs/operations.md, 'The probe's sandbox'.",
            id="evidence.W002",
        )
    ]
