from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="cases.tasks.purge_stale_intake")
def purge_stale_intake() -> int:
    # Kept for beat schedules stored in the database before the "retention" entry replaced it.
    from cases.intake import purge_stale_reports

    return purge_stale_reports()


@shared_task(name="cases.tasks.retention_daily")
def retention_daily() -> dict[str, Any]:
    """Every retention policy, approved deletion requests and file deletions to retry."""
    from cases.retention import retention_run

    return {o.policy: o.as_dict() for o in retention_run(apply=True)}


@shared_task(name="cases.tasks.carry_out_deletion")
def carry_out_deletion(request_id: int) -> bool:
    """Wake-up after a supervisor approved a deletion request (the row is the truth)."""
    from cases.deletion import deletion_request_carry_out

    return deletion_request_carry_out(request_id)


@shared_task(
    name="cases.tasks.notify_new_message",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_kwargs={"max_retries": 5},
)
def notify_new_message(message_id: int) -> bool:
    """E-mails the case's caseworker that the reporter wrote (no victim content, see
    cases/notifications.py). Retries when the mail server is unreachable."""
    from cases.notifications import send_new_message_email

    return send_new_message_email(message_id)
