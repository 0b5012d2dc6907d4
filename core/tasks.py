"""Scheduled system tasks. Thin: call a service, record the outcome."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core import alerts
from core.audit import record_now, verify_chain
from core.models import SystemState


@shared_task(name="core.tasks.verify_audit_chain_task")
def verify_audit_chain_task() -> dict[str, object]:
    report = verify_chain()
    result: dict[str, object] = {
        "ok": report.ok,
        "checked": report.checked,
        "broken_at": report.broken_at,
        "reason": report.reason,
    }
    SystemState.objects.update_or_create(
        key="audit_chain_check", defaults={"value": {**result, "at": timezone.now().isoformat()}}
    )
    record_now("audit.chain_verified" if report.ok else "audit.chain_broken", actor=None, details=result)
    if not report.ok:
        alerts.notify_admins(
            subject="Audit chain broken",
            body=f"The audit log's hash chain is broken at event {report.broken_at}: {report.reason}. "
            "Investigate before trusting the log; run `manage.py verify_audit_chain` to confirm.",
        )
    return result


@shared_task(name="core.tasks.beat_heartbeat")
def beat_heartbeat() -> None:
    """Lets /readyz and operators see that beat and a worker ran recently."""
    SystemState.objects.update_or_create(key="beat_heartbeat", defaults={"value": {"at": timezone.now().isoformat()}})
