"""System checks: retention settings out of range stop `manage.py check` (and deploy-check); an
INTAKE_TRIAGE_CENTRE that names no centre is warned about at start-up and in `manage.py check`."""

from __future__ import annotations

from typing import Any

from django.core import checks


def retention_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from cases.retention import policy_errors

    return [checks.Error(message, id="cases.E001") for message in policy_errors()]


def triage_centre_setting(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A warning, not an error: with an unknown code the central centre triages (docs/intake.md,
    "Routing"), which works, but is likely not what whoever set it meant.

    It reads the database, so it says nothing when there is none to read yet (before the first
    migrate, or while the server is unreachable): the check must never stop migrate itself.
    """
    from django.db import OperationalError, ProgrammingError, transaction

    from cases.selectors import triage_centre_setting_problem

    try:
        # A savepoint: a failed query inside someone's transaction must not break it.
        with transaction.atomic():
            code = triage_centre_setting_problem()
    except (OperationalError, ProgrammingError):
        return []
    if not code:
        return []
    return [
        checks.Warning(
            f"INTAKE_TRIAGE_CENTRE is {code!r}, but no centre has that code: reports nobody has routed go to "
            "the central centre instead.",
            hint="Set it to the code of an existing centre, or leave it empty for the central centre.",
            id="cases.W001",
        )
    ]
