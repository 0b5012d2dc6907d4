"""Thin tasks: take an id, call a service. Retries live in the outbox, not in the broker."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="takedowns.tasks.deliver_notice", acks_late=True)
def deliver_notice(notice_id: int) -> str:
    from takedowns.services import deliver

    return deliver(notice_id)


@shared_task(name="takedowns.tasks.deliver_batch", acks_late=True)
def deliver_batch(notice_ids: list[int]) -> dict[str, int]:
    from takedowns.services import deliver_many

    return deliver_many(notice_ids)


@shared_task(name="takedowns.tasks.recheck_batch", acks_late=True)
def recheck_batch(request_ids: list[int]) -> dict[str, int]:
    from takedowns.rechecks import run_many

    return run_many(request_ids)


@shared_task(name="takedowns.tasks.sweep_outbox_task")
def sweep_outbox_task() -> dict[str, int]:
    from takedowns.services import sweep_outbox

    return sweep_outbox()


@shared_task(name="takedowns.tasks.recheck_request", acks_late=True)
def recheck_request(request_id: int, second_look: bool = False, asked: bool = False) -> str:
    from takedowns.rechecks import run

    return run(request_id, second_look=second_look, asked=asked)


@shared_task(name="takedowns.tasks.schedule_rechecks")
def schedule_rechecks() -> int:
    from takedowns.services import schedule_due_checks

    return schedule_due_checks()


@shared_task(name="takedowns.tasks.poll_ticket")
def poll_ticket(request_id: int) -> str:
    from takedowns.services import poll_status

    return poll_status(request_id)


@shared_task(name="takedowns.tasks.poll_tickets")
def poll_tickets() -> int:
    from django.utils import timezone

    from takedowns.models import Channel, RequestStatus, TakedownRequest

    due = TakedownRequest.objects.filter(
        next_poll_at__lte=timezone.now(),
        status__in=[RequestStatus.SENT, RequestStatus.ACKNOWLEDGED],
        platform__channel=Channel.API,
    ).exclude(ticket="")
    ids = list(due.values_list("pk", flat=True)[:1000])
    for request_id in ids:
        poll_ticket.delay(request_id)
    return len(ids)


@shared_task(name="takedowns.tasks.process_deadlines_task")
def process_deadlines_task() -> dict[str, int]:
    from takedowns.services import process_deadlines

    return process_deadlines()


@shared_task(name="takedowns.tasks.scan_watchlist", acks_late=True)
def scan_watchlist(watchlist_id: int) -> int:
    from takedowns.watchlists import scan

    return scan(watchlist_id)


@shared_task(name="takedowns.tasks.scan_due_watchlists")
def scan_due_watchlists() -> int:
    from takedowns.watchlists import schedule_due_scans

    return schedule_due_scans()


@shared_task(name="takedowns.tasks.refresh_compliance_rollup")
def refresh_compliance_rollup() -> int | None:
    """Every minute: rebuild the compliance roll-up's changed days (takedowns.rollup)."""
    from takedowns import rollup

    return rollup.refresh(wait=False)
