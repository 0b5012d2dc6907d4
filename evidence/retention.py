"""The evidence side of the retention process (cases/retention.py drives it through hooks).

Purging a case's evidence, in the purge's transaction (the retention flag is already on):
1. the storage keys of every original, preview and public-report file of the case are queued in
   BlobDeletion, and the fingerprint ids in RemovedFingerprint (for the match indexes);
2. rows go, dependents first: custody events, fingerprints, previews, download grants, page
   captures, report files, evidence. The wrapped data keys go with the rows, so the ciphertext
   is unreadable from that moment, wherever a copy of it lies;
3. after the commit, the files are deleted from storage and their queue rows with them. A file
   that cannot be deleted (storage down) stays queued and the next retention run tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from evidence import storage
from evidence.models import (
    BlobDeletion,
    CaptureRequest,
    CustodyEvent,
    Derivative,
    DownloadGrant,
    Evidence,
    Fingerprint,
    IntakeFile,
    RemovedFingerprint,
)

logger = logging.getLogger(__name__)

# How long fingerprint ids of purged evidence are listed for the match indexes. A process whose
# index has not refreshed for this long reloads it from scratch (takedowns.matching).
REMOVED_FINGERPRINT_LOG_DAYS = 7


def _keys(case_ids: list[int]) -> list[str]:
    evidence = Evidence.objects.filter(case_id__in=case_ids)
    keys = list(evidence.values_list("storage_key", flat=True))
    keys += Derivative.objects.filter(evidence__in=evidence).values_list("storage_key", flat=True)
    keys += IntakeFile.objects.filter(Q(report__case_id__in=case_ids) | Q(evidence__in=evidence)).values_list(
        "storage_key", flat=True
    )
    return sorted(set(keys))


def case_purge_preview(*, case_ids: list[int]) -> dict[str, int]:
    """Hook (question): what purging these cases would delete, as counts only (for --dry-run)."""
    evidence = Evidence.objects.filter(case_id__in=case_ids)
    return {
        "evidence": evidence.count(),
        "previews": Derivative.objects.filter(evidence__in=evidence).count(),
        "fingerprints": Fingerprint.objects.filter(evidence__in=evidence).count(),
        "stored_files": len(_keys(case_ids)),
    }


def on_case_purging(*, case_ids: list[int]) -> dict[str, int]:
    """Hook: deletes the evidence of these cases; the files go after the commit (see the module)."""
    evidence = Evidence.objects.filter(case_id__in=case_ids)
    keys = _keys(case_ids)
    fingerprint_ids = list(Fingerprint.objects.filter(evidence__in=evidence).values_list("pk", flat=True))
    RemovedFingerprint.objects.bulk_create([RemovedFingerprint(fingerprint_id=pk) for pk in fingerprint_ids], batch_size=5000)
    counts = {
        "custody_events": CustodyEvent.objects.filter(evidence__in=evidence).delete()[0],
        "fingerprints": Fingerprint.objects.filter(evidence__in=evidence).delete()[0],
        "previews": Derivative.objects.filter(evidence__in=evidence).delete()[0],
        "download_grants": DownloadGrant.objects.filter(case_id__in=case_ids).delete()[0],
        "captures": CaptureRequest.objects.filter(case_id__in=case_ids).delete()[0],
        "intake_files": IntakeFile.objects.filter(Q(report__case_id__in=case_ids) | Q(evidence__in=evidence)).delete()[0],
    }
    counts["evidence"] = evidence.delete()[0]
    counts["stored_files"] = queue_blob_deletions(keys)
    return counts


def on_reports_purged(*, report_ids: list[int]) -> None:
    """Hook: the files of purged public reports are deleted after the commit (queued first)."""
    queue_blob_deletions(list(IntakeFile.objects.filter(report_id__in=report_ids).values_list("storage_key", flat=True)))


def queue_blob_deletions(keys: list[str]) -> int:
    """Queues stored files for deletion in the caller's transaction; deletes them after its commit."""
    if not keys:
        return 0
    BlobDeletion.objects.bulk_create([BlobDeletion(storage_key=k) for k in keys], batch_size=5000, ignore_conflicts=True)
    transaction.on_commit(lambda: delete_queued_blobs(keys))
    return len(keys)


def delete_queued_blobs(keys: list[str] | None = None, *, limit: int = 10_000) -> tuple[int, int]:
    """Deletes queued files (these keys, or the oldest queued). Returns (deleted, failed).

    Deleting a file that is already gone counts as done (both storages answer quietly), so a
    retry after a crash between the file and its row is harmless.
    """
    rows = BlobDeletion.objects.order_by("queued_at", "id")
    if keys is not None:
        rows = rows.filter(storage_key__in=keys)
    deleted = failed = 0
    for row in list(rows[:limit]):
        try:
            storage.delete(row.storage_key)
        except Exception as exc:  # noqa: BLE001 - any storage error: keep it queued for the next run
            failed += 1
            BlobDeletion.objects.filter(pk=row.pk).update(attempts=row.attempts + 1, last_error=type(exc).__name__[:200])
            continue
        BlobDeletion.objects.filter(pk=row.pk).delete()
        deleted += 1
    if failed:
        # Counts only: storage keys say nothing about a victim, but nothing here needs them either.
        logger.warning("retention: %d stored file(s) could not be deleted yet; the next retention run retries", failed)
    return deleted, failed


def retention_sweep(*, apply: bool, now: datetime) -> dict[str, dict[str, int]]:
    """Hook (question): the evidence app's own retention chores, counted (and done when apply).

    - download_grants: grants that expired more than RETENTION_DOWNLOAD_GRANT_DAYS ago;
    - file_deletions: stored files still queued for deletion (retried);
    - removed_fingerprint_log: entries older than REMOVED_FINGERPRINT_LOG_DAYS.
    """
    days = settings.RETENTION_DOWNLOAD_GRANT_DAYS
    grants = DownloadGrant.objects.filter(expires_at__lt=now - timedelta(days=days)) if days else DownloadGrant.objects.none()
    log = RemovedFingerprint.objects.filter(removed_at__lt=now - timedelta(days=REMOVED_FINGERPRINT_LOG_DAYS))
    result = {
        "download_grants": {"days": days, "due": grants.count(), "purged": 0},
        "file_deletions": {"due": BlobDeletion.objects.count(), "purged": 0},
        "removed_fingerprint_log": {"days": REMOVED_FINGERPRINT_LOG_DAYS, "due": log.count(), "purged": 0},
    }
    if apply:
        result["download_grants"]["purged"] = grants.delete()[0]
        result["file_deletions"]["purged"] = delete_queued_blobs()[0]
        result["removed_fingerprint_log"]["purged"] = log.delete()[0]
    return result


def register() -> None:
    from core import hooks

    hooks.register("case_purging", on_case_purging)
    hooks.register("case_purge_preview", case_purge_preview)
    hooks.register("retention_sweep", retention_sweep)
