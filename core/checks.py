"""System checks of the core app, run by `manage.py check --deploy` (and `make deploy-check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register("security", deploy=True)
def audit_signer_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Without the signer, the audit log is back to an unkeyed hash chain that anyone with the
    database's rights can rewrite: production should find out at deployment, not in court."""
    from core import audit_signing

    found: list[CheckMessage] = []
    if not str(settings.AUDIT_SIGNER_URL or "").strip():
        found.append(
            Warning(
                "AUDIT_SIGNER_URL is empty: no signed checkpoints are taken, so a rewrite of the audit log "
                "with database rights goes undetected, and old audit events are never purged.",
                hint="Run the signer (python -m core.signer) and set AUDIT_SIGNER_URL (docs/operations.md).",
                id="core.W001",
            )
        )
    try:
        key = audit_signing.public_key()
    except Exception:  # noqa: BLE001 - any malformed value is the operator's to fix, named below
        key = None
        if str(settings.AUDIT_SIGNER_PUBLIC_KEY or "").strip():
            found.append(
                Warning(
                    "AUDIT_SIGNER_PUBLIC_KEY is not a base64 Ed25519 public key.",
                    hint="Copy the key the signer prints when it starts (docs/operations.md).",
                    id="core.W003",
                )
            )
            return found
    if key is None:
        found.append(
            Warning(
                "AUDIT_SIGNER_PUBLIC_KEY is empty: verification checks only the unkeyed hash chain.",
                hint="Copy the key the signer prints when it starts (docs/operations.md).",
                id="core.W002",
            )
        )
    return found
