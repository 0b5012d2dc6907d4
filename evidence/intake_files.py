"""Files sent with public reports. The public pages live in cases, which may not import this app,
so they reach it through hooks (core/hooks.py) registered in EvidenceConfig.ready()."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from django.db import transaction

from evidence import sandbox, storage
from evidence.models import IntakeFile
from evidence.services import EvidenceRefused, IncomingFile, check_file, evidence_add
from evidence.validation import Refused

logger = logging.getLogger(__name__)


def prepare(files: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    """Checks every file (type by content, size, sandboxed parse) and stores it encrypted.
    Refuses the lot with a clear message if any file is refused, leaving nothing stored."""
    prepared: list[dict[str, Any]] = []
    try:
        for path, name in files:
            media_type, kind, _size = check_file(path)
            with tempfile.TemporaryDirectory(prefix="intake-") as out:
                try:
                    sandbox.probe(path, kind, Path(out))
                except Refused as exc:
                    raise EvidenceRefused(exc.message, exc.status) from exc
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
    IntakeFile.objects.bulk_create(
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
            )
            for f in files
        ]
    )


def discard(files: list[dict[str, Any]]) -> None:
    for f in files:
        try:
            storage.delete(f["key"])
        except Exception:  # noqa: BLE001 - an orphan blob without its row cannot be opened
            logger.warning("could not remove an intake blob")


def on_case_opened(*, report: Any, case: Any) -> None:
    """After the triage commits, each file becomes locked evidence of the new case."""
    report_id, actor = report.pk, report.triaged_by

    def convert() -> None:
        for item in IntakeFile.objects.filter(report_id=report_id, evidence__isnull=True):
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

    transaction.on_commit(convert)


def on_reports_purged(*, report_ids: list[int]) -> None:
    """The files of purged reports: queued in the purge's transaction, deleted after its commit."""
    from evidence.retention import on_reports_purged as purge

    purge(report_ids=report_ids)
