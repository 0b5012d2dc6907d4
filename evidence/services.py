"""Writes on the evidence locker. Every one records custody and audit in the same transaction.

Order matters and is the same everywhere:
1. check the file (type by content, size, full parse in the sandbox) before anything is stored;
2. encrypt and store blobs (outside any transaction: storage may be remote);
3. one transaction creates the rows, the custody entry and the audit event, and queues work
   on commit; if it fails, the stored blobs are deleted, so nothing is left half-made.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F as models_F
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case
from core import audit, hooks
from core.errors import Conflict, PermissionDenied, ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role
from evidence import sandbox, storage
from evidence.models import (
    CustodyAction,
    CustodyEvent,
    Derivative,
    DownloadGrant,
    Evidence,
    EvidenceStatus,
    Fingerprint,
    MediaKind,
)
from evidence.selectors import may_download
from evidence.validation import Refused, sniff

logger = logging.getLogger(__name__)


class EvidenceRefused(ServiceError):
    """A file that is not accepted (type, size, damage). status_code follows the reason."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, field="file")
        self.status_code = status


@dataclass(frozen=True)
class IncomingFile:
    path: Path
    name: str
    sha256: str | None = None  # as computed while the upload streamed in, when known


def _require_case_role(user: User) -> None:
    if user.role not in CASE_ROLES:
        raise PermissionDenied(_("Only caseworkers and supervisors handle evidence."))


def custody(evidence: Evidence, action: str, actor: User | None, reason: str = "", **details: Any) -> CustodyEvent:
    return CustodyEvent.objects.create(
        evidence=evidence,
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=actor.get_username() if actor is not None and actor.is_authenticated else "system",
        reason=reason[:1000],
        details=details,
    )


def size_limit(kind: str) -> int:
    limits = settings.EVIDENCE_LIMITS
    return int({"image": limits["max_image_bytes"], "video": limits["max_video_bytes"]}.get(kind, limits["max_document_bytes"]))


def check_file(path: Path, *, limit_for: Callable[[str], int] | None = None) -> tuple[str, str, int]:
    """Type by content and size. Returns (media type, kind, size) or raises EvidenceRefused.

    `limit_for` gives the largest size for a kind (default: the staff limits; the public intake
    passes its lower ones)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(512)
    try:
        sniffed = sniff(head)
    except Refused as exc:
        raise EvidenceRefused(exc.message, exc.status) from exc
    limit = (limit_for or size_limit)(sniffed.kind)
    if size > limit:
        raise EvidenceRefused(
            _("The file is too large: %(size)s MiB; %(kind)s files may be at most %(limit)s MiB.")
            % {"size": size // (1024 * 1024), "kind": sniffed.kind, "limit": limit // (1024 * 1024)},
            413,
        )
    return sniffed.media_type, sniffed.kind, size


def _probe(path: Path, kind: str, out: Path) -> dict[str, Any]:
    try:
        return sandbox.probe(path, kind, out)
    except Refused as exc:
        raise EvidenceRefused(exc.message, exc.status) from exc


def evidence_add(
    *,
    case: Case,
    incoming: IncomingFile,
    acting_user: User,
    description: str = "",
    source_url: str = "",
    captured_at: datetime | None = None,
    reuse_duplicate: bool = False,
    system_archive: bool = False,
) -> Evidence:
    """Validates, encrypts, stores and locks one file as evidence of a case.

    system_archive marks a WARC file the system wrote itself from a capture: it is stored and
    locked like any evidence but not parsed as media.
    """
    _require_case_role(acting_user)
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("evidence_add stores files and must not run inside a transaction")
    if system_archive:
        media_type, kind = "application/warc", MediaKind.ARCHIVE.value
    else:
        media_type, kind, _size = check_file(incoming.path)
    duplicate = Evidence.objects.filter(case=case, sha256=incoming.sha256).first() if incoming.sha256 else None
    if duplicate is not None:
        if reuse_duplicate:
            return duplicate
        raise Conflict(_("This exact file is already evidence %(id)s of this case.") % {"id": duplicate.pk})
    stored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="probe-") as out_dir:
        out = Path(out_dir)
        result: dict[str, Any] = {} if system_archive else _probe(incoming.path, kind, out)
        try:
            original = storage.store_file(incoming.path)
            stored.append(original.key)
            if incoming.sha256 and original.sha256 != incoming.sha256:
                raise EvidenceRefused(_("The file changed while it was being stored; please upload it again."), 409)
            duplicate = Evidence.objects.filter(case=case, sha256=original.sha256).first()
            if duplicate is not None:
                storage.delete(original.key)
                stored.clear()
                if reuse_duplicate:
                    return duplicate
                raise Conflict(_("This exact file is already evidence %(id)s of this case.") % {"id": duplicate.pk})
            previews = {}
            for derivative_kind, file_name in (result.get("previews") or {}).items():
                blob = storage.store_file(out / file_name, "previews")
                stored.append(blob.key)
                previews[derivative_kind] = blob
            with transaction.atomic():
                evidence = Evidence.objects.create(
                    case=case,
                    sha256=original.sha256,
                    size=original.size,
                    media_type=media_type,
                    kind=kind,
                    original_name=(incoming.name or "")[:255],
                    description=description,
                    source_url=source_url,
                    captured_at=captured_at,
                    storage_key=original.key,
                    wrapped_key=original.wrapped_key,
                    key_id=original.key_id,
                    status=EvidenceStatus.PROCESSING if kind == MediaKind.VIDEO else EvidenceStatus.READY,
                    width=result.get("width"),
                    height=result.get("height"),
                    duration_ms=result.get("duration_ms"),
                    frame_count=result.get("frames"),
                    created_by=acting_user,
                )
                for derivative_kind, blob in previews.items():
                    Derivative.objects.create(
                        evidence=evidence, kind=derivative_kind, media_type="image/jpeg", storage_key=blob.key,
                        wrapped_key=blob.wrapped_key, key_id=blob.key_id, size=blob.size,
                    )  # fmt: skip
                _save_fingerprints(evidence, result.get("fingerprints") or [])
                action = CustodyAction.CAPTURE if captured_at else CustodyAction.UPLOAD
                custody(evidence, action, acting_user, sha256=original.sha256, size=original.size, source_url=source_url)
                audit.record(
                    "evidence.add", actor=acting_user, obj=evidence, centre_id=case.centre_id,
                    details={"case": case.pk, "sha256": original.sha256, "media_type": media_type, "size": original.size},
                )  # fmt: skip
                # After the audit event, like every hook: see core/hooks.py (takedowns shares them with partners).
                hooks.fire("fingerprints_added", evidence=evidence)
                if kind == MediaKind.VIDEO:
                    from evidence.tasks import process_video

                    evidence_id = evidence.pk
                    transaction.on_commit(lambda: process_video.delay(evidence_id))
        except BaseException:
            for key in stored:
                try:
                    storage.delete(key)
                except Exception:
                    logger.exception("could not remove an orphaned blob")
            raise
    return evidence


def _save_fingerprints(evidence: Evidence, fingerprints: list[dict[str, Any]]) -> int:
    rows = [
        Fingerprint(
            evidence=evidence,
            algorithm=f["algorithm"],
            value=f["value"],
            quality=f.get("quality"),
            mirrored=bool(f.get("mirrored")),
            frame_ms=f.get("frame_ms"),
        )
        for f in fingerprints
    ]
    Fingerprint.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def evidence_process_video(evidence_id: int) -> bool:
    """Fingerprints a video and makes its contact sheet. Safe to run twice: it does only what is missing."""
    evidence = Evidence.objects.filter(pk=evidence_id).first()
    if evidence is None or evidence.status != EvidenceStatus.PROCESSING:
        return False
    stored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="video-") as work:
        work_dir = Path(work)
        plain = work_dir / "original"
        storage.decrypt_to(evidence.storage_key, evidence.key_id, evidence.wrapped_key, plain)
        out = work_dir / "out"
        out.mkdir()
        try:
            result = sandbox.probe(plain, "video", out, full=True)
        except Refused as exc:
            with transaction.atomic():
                Evidence.objects.filter(pk=evidence.pk, status=EvidenceStatus.PROCESSING).update(
                    status=EvidenceStatus.FAILED, status_detail=exc.message[:300]
                )
                audit.record("evidence.fingerprint_failed", actor=None, obj=evidence, centre_id=evidence.case.centre_id)
            return False
        try:
            blobs = {}
            for derivative_kind, file_name in (result.get("previews") or {}).items():
                blob = storage.store_file(out / file_name, "previews")
                stored.append(blob.key)
                blobs[derivative_kind] = blob
            with transaction.atomic():
                locked = Evidence.objects.select_for_update(of=("self",)).get(pk=evidence.pk)
                if locked.status != EvidenceStatus.PROCESSING:
                    raise _AlreadyDone
                fps = list(result.get("fingerprints") or [])
                fps.append({"algorithm": "md5", "value": result["md5"]})
                count = _save_fingerprints(locked, fps)
                existing = set(locked.derivatives.values_list("kind", flat=True))
                for derivative_kind, blob in blobs.items():
                    if derivative_kind in existing:
                        storage.delete(blob.key)
                        continue
                    Derivative.objects.create(
                        evidence=locked, kind=derivative_kind, media_type="image/jpeg", storage_key=blob.key,
                        wrapped_key=blob.wrapped_key, key_id=blob.key_id, size=blob.size,
                    )  # fmt: skip
                Evidence.objects.filter(pk=locked.pk).update(status=EvidenceStatus.READY, status_detail="")
                custody(locked, CustodyAction.FINGERPRINT, None, fingerprints=count)
                audit.record(
                    "evidence.fingerprinted", actor=None, obj=locked, centre_id=locked.case.centre_id, details={"count": count}
                )
                hooks.fire("fingerprints_added", evidence=locked)
        except _AlreadyDone:
            for key in stored:
                storage.delete(key)
            return False
        except BaseException:
            for key in stored:
                storage.delete(key)
            raise
    return True


class _AlreadyDone(Exception):
    pass


def evidence_record_view(*, evidence: Evidence, acting_user: User) -> None:
    with transaction.atomic():
        custody(evidence, CustodyAction.VIEW, acting_user)
        audit.record("evidence.view", actor=acting_user, obj=evidence, centre_id=evidence.case.centre_id)


def _record_reasoned_access(evidence: Evidence, acting_user: User, action: str, reason: str, missing: str) -> None:
    """Unblurred views and downloads need a stated reason, kept in custody and audit alike."""
    reason = reason.strip()
    if len(reason) < 5:
        raise ServiceError(missing, field="reason")
    with transaction.atomic():
        custody(evidence, action, acting_user, reason)
        audit.record(
            f"evidence.{action}", actor=acting_user, obj=evidence, centre_id=evidence.case.centre_id,
            details={"reason": reason[:500]},
        )  # fmt: skip


def evidence_reveal(*, evidence: Evidence, acting_user: User, reason: str) -> None:
    """Seeing a preview unblurred needs a stated reason."""
    _require_case_role(acting_user)
    _record_reasoned_access(evidence, acting_user, CustodyAction.REVEAL, reason, _("Say why you need to see it unblurred."))


def evidence_download(*, evidence: Evidence, acting_user: User, reason: str, recently_verified: bool) -> None:
    """Checks and records a download of the original. The caller then streams the plaintext."""
    if not may_download(acting_user, evidence):
        raise PermissionDenied(_("Downloading originals needs the supervisor role or a supervisor's grant."))
    if not recently_verified:
        raise PermissionDenied(_("Enter a fresh authenticator code before downloading an original."))
    _record_reasoned_access(evidence, acting_user, CustodyAction.DOWNLOAD, reason, _("Say why you need the original."))


def download_grant_create(*, case: Case, user: User, reason: str, hours: int, acting_user: User) -> DownloadGrant:
    if acting_user.role != Role.SUPERVISOR or acting_user.centre_id != case.centre_id:
        raise PermissionDenied(_("Only a supervisor of the case's centre grants downloads."))
    if user.centre_id != case.centre_id or user.role not in CASE_ROLES:
        raise ServiceError(_("Downloads can be granted only to caseworkers of the same centre."), field="user")
    if not 1 <= hours <= 72:
        raise ServiceError(_("A grant lasts between 1 and 72 hours."), field="hours")
    with transaction.atomic():
        grant = DownloadGrant.objects.create(
            case=case, user=user, granted_by=acting_user, reason=reason[:1000], expires_at=timezone.now() + timedelta(hours=hours)
        )
        audit.record("evidence.download_grant", actor=acting_user, obj=case, details={"user": user.pk, "hours": hours})
    return grant


def evidence_verify(*, evidence: Evidence, acting_user: User | None = None) -> bool:
    """Decrypts and re-hashes the original; records the outcome in custody and audit."""
    import hashlib

    from evidence.crypto import IntegrityError_, KeyError_

    digest = hashlib.sha256()
    problem = ""
    try:
        for chunk in storage.plain_chunks(evidence.storage_key, evidence.key_id, evidence.wrapped_key):
            digest.update(chunk)
    except (IntegrityError_, KeyError_) as exc:
        problem = str(exc)
    except FileNotFoundError:
        problem = "The stored file is missing."
    ok = not problem and digest.hexdigest() == evidence.sha256
    if not ok and not problem:
        problem = "The stored file does not match its SHA-256."
    with transaction.atomic():
        if ok:
            Evidence.objects.filter(pk=evidence.pk).update(last_verified_at=timezone.now())
        custody(evidence, CustodyAction.VERIFY if ok else CustodyAction.VERIFY_FAILED, acting_user, problem)
        audit.record(
            "evidence.verified" if ok else "evidence.verify_failed", actor=acting_user, obj=evidence,
            centre_id=evidence.case.centre_id, details={"ok": ok, "problem": problem[:300]},
        )  # fmt: skip
    return ok


def evidence_rewrap_all(*, batch: int = 500) -> int:
    """Re-wraps every data key with the current master key (after a key rotation)."""
    from evidence import crypto

    current, _master = crypto.current_master()
    changed = 0
    from evidence.models import IntakeFile

    for model in (Evidence, Derivative, IntakeFile):
        qs = model.objects.exclude(key_id=current).order_by("pk")
        for row in qs.iterator(chunk_size=batch):
            kid, wrapped = crypto.rewrap(row.key_id, row.wrapped_key)
            with transaction.atomic():
                model.objects.filter(pk=row.pk).update(key_id=kid, wrapped_key=wrapped)
                if isinstance(row, Evidence):
                    custody(row, CustodyAction.REWRAP, None, key_id=kid)
            changed += 1
    if changed:
        audit.record_now("evidence.keys_rewrapped", actor=None, details={"count": changed, "key_id": current})
    return changed


def evidence_export(*, case: Case, items: list[Evidence], acting_user: User, reason: str, recently_verified: bool) -> Path:
    """Builds a signed export package; records custody per item and one audit event."""
    from evidence.export import build_package

    if not items:
        raise ServiceError(_("Choose at least one item to export."))
    for item in items:
        if item.case_id != case.pk:
            raise ServiceError(_("Every item must belong to this case."))
        if not may_download(acting_user, item):
            raise PermissionDenied(_("Exporting originals needs the supervisor role or a supervisor's grant."))
    if not recently_verified:
        raise PermissionDenied(_("Enter a fresh authenticator code before exporting."))
    reason = reason.strip()
    if len(reason) < 5:
        raise ServiceError(_("Say who the export is for and why."), field="reason")

    def decrypt(item: Evidence, dest: Path) -> str:
        return storage.decrypt_to(item.storage_key, item.key_id, item.wrapped_key, dest)

    path = build_package(case=case, items=items, exported_by=acting_user.username, reason=reason, decrypt_to=decrypt)
    with transaction.atomic():
        for item in items:
            custody(item, CustodyAction.EXPORT, acting_user, reason)
        audit.record(
            "evidence.export", actor=acting_user, obj=case, details={"items": [i.pk for i in items], "reason": reason[:500]}
        )
    return path


# URL capture ----------------------------------------------------------------------------------


def capture_request(*, case: Case, urls: list[str], acting_user: User) -> list[Any]:
    """Records each URL to preserve and queues a worker for it after commit."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from evidence.models import CaptureRequest
    from evidence.tasks import capture_url

    _require_case_role(acting_user)
    validator = URLValidator(schemes=["http", "https"])
    cleaned: list[str] = []
    for raw in urls:
        url = raw.strip()
        if not url:
            continue
        try:
            validator(url)
        except ValidationError as exc:
            raise ServiceError(
                _("This is not a web address that can be captured: %(url)s") % {"url": url[:200]}, field="urls"
            ) from exc
        if url not in cleaned:
            cleaned.append(url)
    if not cleaned:
        raise ServiceError(_("Give at least one web address."), field="urls")
    if len(cleaned) > 500:
        raise ServiceError(_("At most 500 addresses at once."), field="urls")
    with transaction.atomic():
        rows = [CaptureRequest.objects.create(case=case, url=url, requested_by=acting_user) for url in cleaned]
        audit.record("evidence.capture_requested", actor=acting_user, obj=case, details={"count": len(rows)})
        ids = [r.pk for r in rows]
        transaction.on_commit(lambda: [capture_url.delay(i) for i in ids])
    return rows


def capture_run(capture_id: int) -> bool:
    """Fetches one URL, stores the response as a WARC and every image or video it holds as evidence.

    Runs in a worker. Claims the row first so two workers never capture the same URL; a failure
    is recorded on the row, never lost. Each fetched file is deleted as soon as it is stored
    (encrypted), so at most one plaintext copy of the material sits on the worker's disk at a time;
    and a capture fetches at most CAPTURE_MAX_TOTAL_MB in all: the media left when the budget runs
    out are skipped, and the row says the capture was cut short and how many were skipped.
    """
    from core import http
    from evidence.capture import extract_media_urls, warc_records
    from evidence.models import CaptureRequest, CaptureStatus

    # Claim by a conditional UPDATE: of two workers woken for the same row, only one gets 1 back.
    claimed = CaptureRequest.objects.filter(pk=capture_id, status=CaptureStatus.PENDING).update(
        status=CaptureStatus.RUNNING, attempts=models_F("attempts") + 1
    )
    row = CaptureRequest.objects.select_related("case", "requested_by").filter(pk=capture_id).first()
    if not claimed or row is None:
        return False
    limits = settings.EVIDENCE_LIMITS
    budget = int(settings.CAPTURE_MAX_TOTAL_MB) * 1024 * 1024
    captured_at = timezone.now()
    try:
        response = http.request("GET", row.url, max_bytes=min(int(limits["max_image_bytes"]), budget), timeout=20)
    except http.OutboundError as exc:
        _capture_finish(row, CaptureStatus.FAILED, error=str(exc)[:500])
        return False
    used = len(response.body)
    with tempfile.TemporaryDirectory(prefix="capture-") as work:
        work_dir = Path(work)
        warc_path = work_dir / "page.warc.gz"
        warc_path.write_bytes(
            warc_records(row.url, response.status, list(response.headers.items()), response.body, captured_at=captured_at,
                         ip_address=response.remote_address or None)
        )  # fmt: skip
        try:
            evidence_add(
                case=row.case, incoming=IncomingFile(path=warc_path, name="page.warc.gz"), acting_user=row.requested_by,
                source_url=row.url, captured_at=captured_at, reuse_duplicate=True, system_archive=True,
                description=f"HTTP {response.status} capture of the page",
            )  # fmt: skip
        finally:
            warc_path.unlink(missing_ok=True)
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().startswith(("image/", "video/")):
            media = [(row.url, response.body)]
        else:
            media = []
            for ref in extract_media_urls(response.body, response.url, content_type)[:50]:
                media.append((ref.url, b""))
        found, stored, skipped = len(media), 0, 0
        problems: list[str] = []
        for index, (url, body) in enumerate(media):
            remaining = budget - used
            if remaining <= 0:
                skipped = found - index
                break
            path = work_dir / f"media-{index}"
            try:
                if body:
                    path.write_bytes(body)  # the page itself is the media, already counted
                else:
                    per_file = int(limits["max_video_bytes"])
                    try:
                        got = http.stream_to_file(url, path, max_bytes=min(per_file, remaining), timeout=20)
                    except http.ResponseTooLarge:
                        if remaining >= per_file:
                            raise  # too large for any capture, not for what is left of this one
                        skipped = found - index
                        break
                    used += path.stat().st_size if path.exists() else 0
                    if got.status != 200:
                        problems.append(f"{url[:100]}: HTTP {got.status}")
                        continue
                evidence_add(
                    case=row.case, incoming=IncomingFile(path=path, name=url.rsplit("/", 1)[-1][:200]),
                    acting_user=row.requested_by, source_url=url, captured_at=captured_at, reuse_duplicate=True,
                )  # fmt: skip
                stored += 1
            except (http.OutboundError, ServiceError) as exc:
                problems.append(f"{url[:100]}: {getattr(exc, 'message', str(exc))[:150]}")
            finally:
                # Stored (encrypted) or refused, the plaintext copy goes now, not when the capture ends.
                path.unlink(missing_ok=True)
    _capture_finish(
        row,
        CaptureStatus.DONE,
        http_status=response.status,
        media_found=found,
        media_stored=stored,
        bytes_fetched=used,
        cut_short=skipped > 0,
        media_skipped=skipped,
        error="; ".join(problems)[:500],
    )
    return True


def _capture_finish(row: Any, status: str, **fields: Any) -> None:
    from evidence.models import CaptureRequest

    with transaction.atomic():
        CaptureRequest.objects.filter(pk=row.pk).update(status=status, finished_at=timezone.now(), **fields)
        audit.record(
            "evidence.capture_done" if status == "done" else "evidence.capture_failed", actor=None, obj=row.case,
            details={"capture": row.pk, "media_stored": fields.get("media_stored", 0), "cut_short": fields.get("cut_short", False)},
        )  # fmt: skip
