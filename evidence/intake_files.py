"""Files sent with public reports. The public pages live in cases, which may not import this app,
so they reach it through hooks (core/hooks.py) registered in EvidenceConfig.ready()."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from core import audit
from core.errors import ServiceError
from evidence import sandbox, storage
from evidence.models import IntakeFile, IntakeFileState
from evidence.services import EvidenceRefused, IncomingFile, check_file, evidence_add, size_limit
from evidence.validation import Refused

logger = logging.getLogger(__name__)


class QuarantineFull(ServiceError):
    """Too many public files wait for a worker: the request is refused and keeps nothing."""

    status_code = 503


def public_limit(kind: str) -> int:
    """The public form's limit for a kind, never above the staff one (evidence.services.size_limit)."""
    mib = 1024 * 1024
    limits = {"image": settings.INTAKE_MAX_IMAGE_MB * mib, "video": settings.INTAKE_MAX_VIDEO_MB * mib}
    # Documents (PDF) are held to the image limit: nobody needs a larger one in a first report.
    return int(min(limits.get(kind, limits["image"]), size_limit(kind)))


def _cheap_check(path: Path) -> tuple[str, str, int]:
    """Only what costs nothing: the type by its first bytes and the public size limit. Parsing
    (the sandboxed probe) is a worker's job (parse_quarantined)."""
    return check_file(path, limit_for=public_limit)


def quarantine_full() -> bool:
    return IntakeFile.objects.filter(state=IntakeFileState.PENDING).count() >= settings.INTAKE_QUARANTINE_MAX_PENDING


def prepare(files: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    """Cheap checks (count, size, type by content), then stores each file encrypted as received,
    in quarantine. Refuses the lot with a clear message if any file is refused, and answers
    "busy" (QuarantineFull, 503) when too many files already wait, leaving nothing stored."""
    if len(files) > settings.INTAKE_MAX_FILES:
        raise ServiceError(
            _("Please send at most %(n)s files at once; you can add more later with your receipt.")
            % {"n": settings.INTAKE_MAX_FILES},
            field="files",
        )
    checked = [(path, name, *_cheap_check(path)) for path, name in files]
    if checked and quarantine_full():
        raise QuarantineFull(_("We are receiving many reports right now. Please try again in a few minutes."))
    prepared: list[dict[str, Any]] = []
    try:
        for path, name, media_type, _kind, _size in checked:
            blob = storage.store_file(path, "intake")
            prepared.append(
                {
                    "key": blob.key,
                    "key_id": blob.key_id,
                    "wrapped": blob.wrapped_key,
                    "sha256": blob.sha256,
                    "size": blob.size,
                    "media_type": media_type,
                    "name": name[:255],
                }
            )
    except BaseException:
        discard(prepared)
        raise
    return prepared


def attach(*, report: Any, files: list[dict[str, Any]]) -> None:
    """Rows for the quarantined files; after the commit, one parse task per file for a worker."""
    rows = IntakeFile.objects.bulk_create(
        [
            IntakeFile(
                report=report,
                sha256=f["sha256"],
                size=f["size"],
                media_type=f["media_type"],
                original_name=f["name"],
                storage_key=f["key"],
                wrapped_key=f["wrapped"],
                key_id=f["key_id"],
                state=IntakeFileState.PENDING,
            )
            for f in files
        ]
    )
    ids = [row.pk for row in rows]

    def wake() -> None:
        from evidence.tasks import parse_intake_file

        for file_id in ids:
            try:
                parse_intake_file.delay(file_id)
            except Exception:  # noqa: BLE001 - the row is the truth; requeue_quarantined finds it
                logger.warning("could not queue the check of a public file")

    transaction.on_commit(wake)


def parse_quarantined(file_id: int) -> str:
    """A worker's job: decrypt one quarantined file, parse it in the sandbox, and keep it (checked)
    or drop it (blob deleted; the report then says a file could not be read). Running twice is
    harmless: only a pending file is worked on. Returns the file's state."""
    item = IntakeFile.objects.filter(pk=file_id).select_related("report").first()
    if item is None or item.state != IntakeFileState.PENDING:
        return item.state if item is not None else "gone"
    with tempfile.TemporaryDirectory(prefix="intake-parse-") as work:
        path = Path(work) / "file"
        storage.decrypt_to(item.storage_key, item.key_id, item.wrapped_key, path)
        try:
            _media_type, kind, _size = check_file(path)  # the staff limits and type, once more
            with tempfile.TemporaryDirectory(prefix="intake-probe-") as out:
                sandbox.probe(path, kind, Path(out))
        except (Refused, EvidenceRefused):
            with transaction.atomic():
                if IntakeFile.objects.filter(pk=item.pk, state=IntakeFileState.PENDING).update(state=IntakeFileState.DROPPED):
                    audit.record("intake.file_dropped", actor=None, obj=item.report, details={"file": item.pk})
            discard([{"key": item.storage_key}])
            return IntakeFileState.DROPPED
    IntakeFile.objects.filter(pk=item.pk, state=IntakeFileState.PENDING).update(state=IntakeFileState.CHECKED)
    if item.report.case_id:
        report = item.report
        _convert(report.pk, report.case, report.triaged_by or getattr(report.case, "created_by", None))
    return IntakeFileState.CHECKED


def requeue_quarantined() -> int:
    """Wakes the check of every file still waiting (a lost wake-up, a worker killed mid-way)."""
    from evidence.tasks import parse_intake_file

    ids = list(IntakeFile.objects.filter(state=IntakeFileState.PENDING).values_list("pk", flat=True))
    for file_id in ids:
        parse_intake_file.delay(file_id)
    return len(ids)


def file_summary(report: Any) -> dict[str, int]:
    """How many files of a report were kept, wait for their check, or were dropped."""
    counts = dict.fromkeys(IntakeFileState.values, 0)
    for state in IntakeFile.objects.filter(report=report).values_list("state", flat=True):
        counts[state] += 1
    return counts


def discard(files: list[dict[str, Any]]) -> None:
    for f in files:
        try:
            storage.delete(f["key"])
        except Exception:  # noqa: BLE001 - an orphan blob without its row cannot be opened
            logger.warning("could not remove an intake blob")


def on_case_opened(*, report: Any, case: Any) -> None:
    """After the triage commits, each file becomes locked evidence of the new case. Staff act
    here, so files still waiting in quarantine are taken too: evidence_add parses each in the
    sandbox anyway. (Files a reporter adds later are converted by the worker that checks them.)"""
    report_id, actor = report.pk, report.triaged_by
    transaction.on_commit(lambda: _convert(report_id, case, actor, waiting_too=True))


def _convert(report_id: int, case: Any, actor: Any, *, waiting_too: bool = False) -> None:
    """Each kept file of the report becomes locked evidence of the case (evidence_add checks and
    parses it again); never called for an anonymous request."""
    states = [IntakeFileState.CHECKED, IntakeFileState.PENDING] if waiting_too else [IntakeFileState.CHECKED]
    for item in IntakeFile.objects.filter(report_id=report_id, evidence__isnull=True, state__in=states):
        with tempfile.TemporaryDirectory(prefix="intake-convert-") as work:
            path = Path(work) / "file"
            storage.decrypt_to(item.storage_key, item.key_id, item.wrapped_key, path)
            try:
                evidence = evidence_add(
                    case=case,
                    incoming=IncomingFile(path=path, name=item.original_name, sha256=item.sha256),
                    acting_user=actor,
                    description="sent with the public report",
                    reuse_duplicate=True,
                )
            except Exception:
                logger.exception("could not turn an intake file into evidence")
                continue
        IntakeFile.objects.filter(pk=item.pk).update(evidence=evidence)


def on_reports_purged(*, report_ids: list[int]) -> None:
    """The files of purged reports: queued in the purge's transaction, deleted after its commit."""
    from evidence.retention import on_reports_purged as purge

    purge(report_ids=report_ids)
