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
