"""Scheduled system tasks. Thin: call a service, record the outcome."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.models import SystemState
from core.services import audit_chain_check


@shared_task(name="core.tasks.verify_audit_chain_task")
def verify_audit_chain_task(acting_user_id: int | None = None) -> dict[str, object]:
    from core.models import User

    user = User.objects.filter(pk=acting_user_id).first() if acting_user_id else None
    return audit_chain_check(acting_user=user)


@shared_task(name="core.tasks.beat_heartbeat")
def beat_heartbeat() -> None:
    """Lets /readyz and operators see that beat and a worker ran recently."""
    SystemState.objects.update_or_create(key="beat_heartbeat", defaults={"value": {"at": timezone.now().isoformat()}})


@shared_task(name="core.tasks.audit_checkpoint_task")
def audit_checkpoint_task() -> dict[str, object]:
    """Has the audit signer sign the chain's head (core/audit_signing.py). When the signer is down
    the events are still recorded as always; the checkpoint is taken by the next run, and /readyz
    and the audit page say the signer is unreachable meanwhile."""
    import logging

    from core import audit_signing

    try:
        stored = audit_signing.checkpoint()
    except audit_signing.SignerUnavailable as exc:
        logging.getLogger(__name__).warning("audit checkpoint not taken: %s", exc)
        state = {"ok": False, "at": timezone.now().isoformat(), "error": str(exc)}
    else:
        state = {"ok": True, "at": timezone.now().isoformat(), "seq": stored.seq if stored else None}
    SystemState.objects.update_or_create(key="audit_checkpoint", defaults={"value": state})
    return state
