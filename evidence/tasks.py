"""Thin tasks: load by id, call a service, own the retries."""

from __future__ import annotations

from celery import shared_task

from core import alerts


@shared_task(name="evidence.tasks.process_video", autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True)
def process_video(evidence_id: int) -> bool:
    from evidence.services import evidence_process_video

    return evidence_process_video(evidence_id)


@shared_task(name="evidence.tasks.parse_intake_file", autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True)
def parse_intake_file(file_id: int) -> str:
    """A public file out of quarantine: parsed in the sandbox here, never in the web request."""
    from evidence.intake_files import parse_quarantined

    return parse_quarantined(file_id)


@shared_task(name="evidence.tasks.requeue_quarantined_files")
def requeue_quarantined_files() -> int:
    from evidence.intake_files import requeue_quarantined

    return requeue_quarantined()


@shared_task(name="evidence.tasks.reprocess_stuck_videos")
def reprocess_stuck_videos() -> int:
    """Re-queues videos still processing after an hour (a lost wake-up or a killed worker)."""
    from datetime import timedelta

    from django.utils import timezone

    from evidence.models import Evidence, EvidenceStatus

    stuck = Evidence.objects.filter(status=EvidenceStatus.PROCESSING, created_at__lt=timezone.now() - timedelta(hours=1))
    count = 0
    for evidence_id in stuck.values_list("pk", flat=True):
        process_video.delay(evidence_id)
        count += 1
    return count


# Reading back every original takes long on a large locker: this task gets hours, not minutes.
@shared_task(name="evidence.tasks.verify_all_evidence", soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def verify_all_evidence() -> dict[str, int]:
    from evidence.models import Evidence
    from evidence.services import evidence_verify

    checked = failed = 0
    bad: list[str] = []
    for evidence in Evidence.objects.select_related("case").iterator(chunk_size=200):
        checked += 1
        if not evidence_verify(evidence=evidence):
            failed += 1
            bad.append(f"evidence {evidence.pk} (case {evidence.case.reference})")
    if failed:
        alerts.notify_admins(
            subject="Evidence integrity check failed",
            body=f"{failed} of {checked} evidence files failed the integrity check: "
            + ", ".join(bad[:50])
            + ". Run `manage.py verify_evidence` for details.",
        )
    return {"checked": checked, "failed": failed}


@shared_task(name="evidence.tasks.capture_url", acks_late=True)
def capture_url(capture_id: int) -> bool:
    from evidence.services import capture_run

    return capture_run(capture_id)


@shared_task(name="evidence.tasks.requeue_pending_captures")
def requeue_pending_captures() -> int:
    """Wakes captures whose message was lost (broker down, worker killed) after five minutes."""
    from datetime import timedelta

    from django.utils import timezone

    from evidence.models import CaptureRequest, CaptureStatus

    # A capture left running for 15 minutes lost its worker: give it back to the queue.
    CaptureRequest.objects.filter(
        status=CaptureStatus.RUNNING, created_at__lt=timezone.now() - timedelta(minutes=15), attempts__lt=5
    ).update(status=CaptureStatus.PENDING)
    stale = CaptureRequest.objects.filter(status=CaptureStatus.PENDING, created_at__lt=timezone.now() - timedelta(minutes=5))
    count = 0
    for capture_id in stale.values_list("pk", flat=True)[:1000]:
        capture_url.delay(capture_id)
        count += 1
    return count
