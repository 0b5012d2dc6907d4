"""The public intake: reports without an account, receipt codes, progress for the reporter.

Privacy rules kept here: no IP address, no user agent, nothing about the browser is stored or
logged; report text and contact details are encrypted at rest; the receipt code is shown once
and stored only as a SHA-256 (to find the report) and a slow scrypt hash (to confirm it).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import (
    DeletionTombstone,
    IntakeFingerprint,
    IntakeMessage,
    IntakeReport,
    IntakeStatus,
    IntakeURL,
    ReporterRole,
)
from cases.selectors import reporter_thread
from core import audit, hooks
from core.errors import Conflict, PermissionDenied, ServiceError

_P = ParamSpec("_P")
_R = TypeVar("_R")


def anonymous(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """For what a receipt holder does: every audit event recorded meanwhile (here or by the hooks
    fired) carries only the day's start, never the time of day (DESIGN.md; core/audit.day_only).
    Rows written for the reporter keep days too (received_on, sent_on) or the day's start."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with audit.day_only():
            return func(*args, **kwargs)

    return wrapper


_RECEIPT_BYTES = 20  # 160 bits from the operating system's secure generator
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_HEX_LENGTHS = {"pdq": 64, "phash": 16}
_url_validator = URLValidator(schemes=["http", "https"])


def new_receipt() -> str:
    """32 letters and digits in groups of four, easy to copy or write down (no 0, 1, 8, 9)."""
    raw = base64.b32encode(secrets.token_bytes(_RECEIPT_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_receipt(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


def _lookup_key(normalised: str) -> str:
    # An unkeyed SHA-256 is enough to find a report: a 160-bit code cannot be guessed from it, and
    # depending on no key means rotating the master key never orphans a receipt. The slow scrypt
    # hash is what confirms the code.
    return hashlib.sha256(b"victimsupport intake receipt v1:" + normalised.encode("ascii", "ignore")).hexdigest()


def _slow_hash(normalised: str, salt: bytes) -> str:
    digest = hashlib.scrypt(normalised.encode("ascii", "ignore"), salt=salt, **_SCRYPT, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _slow_check(normalised: str, stored: str) -> bool:
    _kind, salt_hex, _digest = stored.split("$")
    return hmac.compare_digest(_slow_hash(normalised, bytes.fromhex(salt_hex)), stored)


@dataclass
class IntakeInput:
    description: str = ""
    urls: tuple[str, ...] = ()
    contact: dict[str, Any] | None = None
    is_minor: bool | None = None
    is_spreading: bool = False
    threatened: bool = False
    reporter_role: str = ReporterRole.VICTIM
    language: str = "ko"
    consent: dict[str, bool] | None = None
    fingerprints: tuple[dict[str, Any], ...] = ()
    centre: str = ""  # the code of the centre or region the reporter chose; "" = don't know
    urgent: bool = False  # the reporter says it is urgent (danger), beyond the three signs below


# Contact wishes as the form and the API give them (the API also accepts "safe_times" and
# "channel"), stored under these keys inside the encrypted contact JSON.
_CONTACT_KEYS = {"name": "name", "email": "email", "phone": "phone", "times": "times", "safe_times": "times",
                 "channel": "channel", "may_leave_messages": "may_leave_messages"}  # fmt: skip


def _clean_contact(raw: dict[str, Any]) -> dict[str, Any]:
    from cases.models import ContactChannel

    contact: dict[str, Any] = {}
    for key, value in raw.items():
        name = _CONTACT_KEYS.get(str(key))
        if name is None or value in (None, ""):
            continue
        contact[name] = bool(value) if name == "may_leave_messages" else str(value).strip()
    if contact.get("channel") and contact["channel"] not in ContactChannel.values:
        raise ServiceError(_("Choose how we may contact you from the list."), field="contact_channel")
    return contact


def centre_for_code(code: str) -> Any:
    """The centre a reporter chose, by its code; None for "don't know" (an unknown code is an error)."""
    from core.models import Centre

    code = (code or "").strip()
    if not code:
        return None
    centre = Centre.objects.filter(code__iexact=code).first()
    if centre is None:
        raise ServiceError(_('We do not know that centre. Choose one from the list, or "I don\'t know".'), field="centre")
    return centre


def _clean(data: IntakeInput) -> IntakeInput:
    if len(data.description) > 20_000:
        raise ServiceError(_("Please keep the description under 20,000 characters."), field="description")
    if len(data.urls) > 200:
        raise ServiceError(_("At most 200 addresses in one report; you can add more later with your receipt."), field="urls")
    urls = []
    for raw in data.urls:
        url = str(raw).strip()
        if not url:
            continue
        try:
            _url_validator(url)
        except ValidationError as exc:
            raise ServiceError(_("This does not look like a web address: %(url)s") % {"url": url[:100]}, field="urls") from exc
        if url not in urls:
            urls.append(url)
    if len(data.fingerprints) > 100:
        raise ServiceError(_("Too many fingerprints in one report."), field="fingerprints")
    for fp in data.fingerprints:
        algorithm, value = str(fp.get("algorithm", "")), str(fp.get("value", ""))
        if _HEX_LENGTHS.get(algorithm) != len(value) or any(c not in "0123456789abcdef" for c in value.lower()):
            raise ServiceError(_("A fingerprint is not in the expected form."), field="fingerprints")
    contact = _clean_contact(data.contact or {})
    if len(json.dumps(contact)) > 2000:
        raise ServiceError(_("The contact details are too long."), field="contact")
    if data.reporter_role not in ReporterRole.values:
        raise ServiceError(_("Say whether you are the person in the material or helping them."), field="reporter_role")
    if not (data.description.strip() or urls or data.fingerprints):
        raise ServiceError(_("Tell us what happened, or give at least one address or picture."), field="description")
    return IntakeInput(
        description=data.description.strip(), urls=tuple(urls), contact=contact, is_minor=data.is_minor,
        is_spreading=bool(data.is_spreading), threatened=bool(data.threatened), reporter_role=data.reporter_role,
        language=(data.language or "ko")[:10], consent=data.consent or {}, fingerprints=data.fingerprints,
        centre=(data.centre or "").strip(), urgent=bool(data.urgent),
    )  # fmt: skip


def _quality(value: Any) -> int | None:
    try:
        quality = int(value)
    except (TypeError, ValueError):
        return None
    return quality if 0 <= quality <= 100 else None


def prepare_files(files: list[tuple[Any, str]]) -> list[dict[str, Any]]:
    """Checks and stores files sent with a report (the evidence app does the work, via a hook)."""
    if not files:
        return []
    if len(files) > settings.INTAKE_MAX_FILES:
        raise ServiceError(
            _("Please send at most %(n)s files at once; you can add more later with your receipt.")
            % {"n": settings.INTAKE_MAX_FILES},
            field="files",
        )
    prepared: list[dict[str, Any]] = []
    for provider in hooks.providers("intake_prepare_files"):
        prepared = provider(files)
    return prepared


def _clean_allowing_files(data: IntakeInput) -> IntakeInput:
    """A report may be files alone: the 'tell us something' rule is met by them."""
    placeholder = IntakeInput(**{**data.__dict__, "description": data.description or " "})
    clean = _clean(placeholder)
    clean.description = data.description.strip()
    return clean


@anonymous
def intake_submit(data: IntakeInput, *, files: list[dict[str, Any]] | None = None) -> tuple[IntakeReport, str]:
    """Stores a report and returns it with its receipt code (the only time the code exists)."""
    try:
        return _submit(data, files or [])
    except BaseException:
        if files:
            for discard in hooks.providers("intake_discard_files"):
                discard(files)
        raise


def _submit(data: IntakeInput, files: list[dict[str, Any]]) -> tuple[IntakeReport, str]:
    clean = _clean(data) if not files else _clean_allowing_files(data)
    receipt = new_receipt()
    normalised = normalise_receipt(receipt)
    consent = clean.consent or {}
    centre = centre_for_code(clean.centre)
    with transaction.atomic():
        report = IntakeReport.objects.create(
            receipt_lookup=_lookup_key(normalised),
            receipt_hash=_slow_hash(normalised, secrets.token_bytes(16)),
            description=clean.description,
            contact=json.dumps(clean.contact, ensure_ascii=False) if clean.contact else "",
            is_minor=clean.is_minor,
            is_spreading=clean.is_spreading,
            threatened=clean.threatened,
            urgent=clean.urgent or bool(clean.is_minor) or clean.is_spreading or clean.threatened,
            centre=centre,
            reporter_role=clean.reporter_role,
            language=clean.language,
            consent_takedown=bool(consent.get("takedown")),
            consent_hash_sharing=bool(consent.get("hash_sharing")),
            consent_police_referral=bool(consent.get("police_referral")),
            consent_legal_support=bool(consent.get("legal_support")),
            received_on=timezone.localdate(),
        )
        IntakeURL.objects.bulk_create([IntakeURL(report=report, url=u) for u in clean.urls])
        IntakeFingerprint.objects.bulk_create(
            [
                IntakeFingerprint(
                    report=report,
                    algorithm=fp["algorithm"],
                    value=str(fp["value"]).lower(),
                    mirrored=bool(fp.get("mirrored")),
                    quality=_quality(fp.get("quality")),
                )
                for fp in clean.fingerprints
            ]
        )
        if files:
            hooks.fire("intake_attach_files", report=report, files=files)
        # The audit event says that a report arrived, never who sent it or from where.
        audit.record(
            "intake.received", actor=None, obj=report,
            details={"urls": len(clean.urls), "fingerprints": len(clean.fingerprints), "files": len(files)},
        )  # fmt: skip
    return report, receipt


# A fixed, valid hash: a wrong receipt costs the same scrypt work as a right one.
_DUMMY = _slow_hash("X" * 32, b"\x00" * 16)


def intake_find(receipt: str) -> IntakeReport | None:
    """The report for a receipt, or None; every wrong receipt costs the same and says the same."""
    normalised = normalise_receipt(receipt)
    if not 16 <= len(normalised) <= 64:
        _slow_check("X" * 32, _DUMMY)
        return None
    report = IntakeReport.objects.filter(receipt_lookup=_lookup_key(normalised)).first()
    if report is None:
        _slow_check(normalised, _DUMMY)
        return None
    return report if _slow_check(normalised, report.receipt_hash) else None


def guess_allowed() -> bool:
    """A global budget of receipt checks per minute, kept in Redis: slows guessing without
    knowing anything about who is asking. Without Redis, scrypt's cost alone slows it."""
    if not settings.REDIS_URL:
        return True
    try:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
        key = f"{settings.REDIS_KEY_PREFIX}:intake-status:{int(timezone.now().timestamp() // 60)}"
        count = int(client.incr(key))
        if count == 1:
            client.expire(key, 120)
        return count <= settings.INTAKE_STATUS_PER_MINUTE
    except Exception:  # noqa: BLE001 - fail open: scrypt still slows guessing
        return True


def file_summary(report: IntakeReport) -> dict[str, int]:
    """How many of the report's files were kept, wait for their check, or were dropped."""
    summary: dict[str, int] = {}
    for provider in hooks.providers("intake_file_summary"):
        summary = provider(report)
    return summary


def intake_progress(report: IntakeReport) -> dict[str, Any]:
    """What the reporter sees: plain words, nothing about staff or other people."""
    url_states: dict[int, str] = {}
    for provider in hooks.providers("intake_url_progress"):
        answer: Any = provider([u.takedown_id for u in report.urls.all() if u.takedown_id])
        url_states.update(answer or {})
    return {
        "status": report.status,
        "status_label": str(IntakeStatus(report.status).label),
        "deletion": _deletion_progress(report),
        "received_on": report.received_on.isoformat(),
        "urls": [{"url": u.url, "progress": url_states.get(u.takedown_id or 0, str(_("Waiting for review")))} for u in report.urls.all()],
        # Both directions, oldest first; "at" is the day only (no time of day is kept).
        "messages": reporter_thread(report),
        "consent": {
            "takedown": report.consent_takedown, "hash_sharing": report.consent_hash_sharing,
            "police_referral": report.consent_police_referral, "legal_support": report.consent_legal_support,
        },
    }  # fmt: skip


def _deletion_progress(report: IntakeReport) -> dict[str, str] | None:
    """Where the reporter's deletion request stands, in plain words (None: never asked)."""
    from cases.deletion import deletion_state_for_report
    from cases.models import DeletionStatus

    request = deletion_state_for_report(report)
    if request is None:
        return None
    words = {
        DeletionStatus.PENDING: _("You asked us to delete your report. A supervisor will look at your request soon."),
        DeletionStatus.APPROVED: _("Your request was accepted. We are deleting your report and what you sent us."),
        DeletionStatus.ON_HOLD: _(
            "We cannot delete your report yet, because the law requires us to keep it for now. "
            "A staff member will contact you to explain."
        ),
        DeletionStatus.REFUSED: _("We could not delete your report. A staff member will contact you to explain why."),
        DeletionStatus.DONE: _("Your request was carried out."),
    }
    return {"status": request.status, "message": str(words[DeletionStatus(request.status)]),
            "requested_on": timezone.localdate(request.requested_at).isoformat()}  # fmt: skip


@anonymous
@transaction.atomic
def intake_add_urls(*, report: IntakeReport, urls: list[str]) -> int:
    clean = _clean(IntakeInput(urls=tuple(urls), description="x"))
    existing = set(report.urls.values_list("url", flat=True))
    new = [IntakeURL(report=report, url=u) for u in clean.urls if u not in existing]
    IntakeURL.objects.bulk_create(new)
    audit.record("intake.urls_added", actor=None, obj=report, details={"count": len(new)})
    if report.case_id and new:
        hooks.fire("intake_urls_added", report=report, urls=new)
    return len(new)


@anonymous
def intake_add_files(*, report: IntakeReport, files: list[dict[str, Any]]) -> int:
    """More files from the status page; on a report with a case they become evidence too."""
    if not files:
        raise ServiceError(_("Choose at least one file."), field="files")
    try:
        with transaction.atomic():
            # On a report with a case, the worker that checks each file also makes it evidence:
            # nothing is parsed in this anonymous request.
            hooks.fire("intake_attach_files", report=report, files=files)
            audit.record("intake.files_added", actor=None, obj=report, details={"count": len(files)})
    except BaseException:
        for discard in hooks.providers("intake_discard_files"):
            discard(files)
        raise
    return len(files)


@anonymous
@transaction.atomic
def intake_reply(*, report: IntakeReport, text: str) -> IntakeMessage:
    """A message from the reporter (status page or API). The staff who may see the report find
    it unread; the case's caseworker also gets an e-mail, sent by a worker after the commit."""
    from cases.notifications import notify_after_commit

    text = (text or "").strip()
    if not text or len(text) > 5000:
        raise ServiceError(_("Write a message of up to 5,000 characters."), field="text")
    message = IntakeMessage.objects.create(report=report, from_staff=False, text=text, sent_on=timezone.localdate())
    audit.record("intake.reply", actor=None, obj=report, details={"message": message.pk})
    notify_after_commit(message)
    return message


@anonymous
@transaction.atomic
def intake_withdraw_consent(*, report: IntakeReport, kind: str) -> None:
    """Takes effect at once: for hash sharing, the partners' list loses the fingerprints now."""
    field = {"takedown": "consent_takedown", "hash_sharing": "consent_hash_sharing",
             "police_referral": "consent_police_referral", "legal_support": "consent_legal_support"}.get(kind)  # fmt: skip
    if field is None:
        raise ServiceError(_("Unknown consent."), field="kind")
    setattr(report, field, False)
    report.save(update_fields=[field])
    audit.record("intake.consent_withdrawn", actor=None, obj=report, details={"kind": kind})
    if report.case_id:
        from cases.models import ConsentKind, ConsentMethod, ConsentRecord

        case = report.case
        assert case is not None
        recorder = report.triaged_by or case.created_by
        record = ConsentRecord.objects.create(
            case=case, kind=ConsentKind(kind), granted=False, method=ConsentMethod.ONLINE_FORM, recorded_by=recorder,
            note="withdrawn by the reporter on the status page",
        )  # fmt: skip
        # The reporter's act keeps only its day, like every anonymous action.
        ConsentRecord.objects.filter(pk=record.pk).update(recorded_at=audit.day_start())
        audit.record("consent.withdraw", actor=None, obj=case, details={"kind": kind, "by": "reporter"})
        hooks.fire("consent_changed", case=case, kind=kind, granted=False, acting_user=None)


@anonymous
@transaction.atomic
def intake_request_deletion(*, report: IntakeReport) -> None:
    """The reporter asks for deletion: a request for a supervisor's decision (cases/deletion.py).
    Asking again while one is open changes nothing."""
    from cases.deletion import deletion_request_from_reporter

    report = IntakeReport.objects.select_for_update().get(pk=report.pk)
    request = deletion_request_from_reporter(report=report)
    if report.status == IntakeStatus.DELETION_REQUESTED:
        return
    report.status = IntakeStatus.DELETION_REQUESTED
    report.deletion_requested_at = audit.day_start()  # the day only, as for every anonymous action
    report.save(update_fields=["status", "deletion_requested_at"])
    audit.record("intake.deletion_requested", actor=None, obj=report, details={"request": request.pk})


def intake_find_deleted(receipt: str) -> DeletionTombstone | None:
    """What remains of a deleted report, for its receipt. Call after intake_find() answered None:
    that already spent the same scrypt work as for any wrong receipt."""
    normalised = normalise_receipt(receipt)
    if not 16 <= len(normalised) <= 64:
        return None
    return DeletionTombstone.objects.filter(receipt_lookup=_lookup_key(normalised)).first()


@transaction.atomic
def intake_staff_message(*, report: IntakeReport, text: str, acting_user: Any) -> IntakeMessage:
    """A staff reply, shown on the reporter's status page. Whoever replies has read the thread."""
    text = (text or "").strip()
    if not text or len(text) > 5000:
        raise ServiceError(_("Write a message of up to 5,000 characters."), field="text")
    message = IntakeMessage.objects.create(
        report=report, from_staff=True, text=text, author=acting_user, sent_on=timezone.localdate()
    )
    audit.record("intake.staff_message", actor=acting_user, obj=report, details={"message": message.pk})
    if report.case_id:
        audit.record("intake.staff_message", actor=acting_user, obj=report.case, details={"report": report.pk})
    intake_mark_read(report=report, user=acting_user)
    return message


def intake_mark_read(*, report: IntakeReport, user: Any) -> None:
    """Remembers that this person has read the report's thread up to its newest message.

    Called when the thread is shown to them (triage page, case page) and when they reply. Not an
    audit event of its own: showing the report is audited already ("intake.view", "case.view");
    the mark is only what makes the unread count go down.
    """
    from cases.models import IntakeReadMark

    newest = report.messages.order_by("-id").values_list("id", flat=True).first()
    if newest is None or user is None or not getattr(user, "pk", None):
        return
    mark, _created = IntakeReadMark.objects.get_or_create(report=report, user=user)
    if mark.last_read_id < newest:
        IntakeReadMark.objects.filter(pk=mark.pk, last_read_id__lt=newest).update(last_read_id=newest)


@transaction.atomic
def intake_route(*, report: IntakeReport, centre: Any, acting_user: Any) -> IntakeReport:
    """Sends a report to another centre's queue (from triage, or on from a centre that got it
    by mistake). Only before a case exists: after that the case's centre owns it.
    The caller has checked that the acting user may see the report (selectors)."""
    from core.roles import CASE_ROLES

    if getattr(acting_user, "role", None) not in CASE_ROLES or acting_user.centre_id is None:
        raise PermissionDenied(_("Only caseworkers and supervisors route reports."))
    locked = IntakeReport.objects.select_for_update().get(pk=report.pk)
    if locked.case_id:
        raise ServiceError(_("A case was already opened for this report; it stays with the case's centre."))
    if centre is None:
        raise ServiceError(_("Choose a centre."), field="centre")
    if locked.centre_id == centre.pk:
        return locked
    previous = locked.centre_id
    locked.centre = centre
    locked.save(update_fields=["centre"])
    audit.record("intake.routed", actor=acting_user, obj=locked, details={"from": previous, "to": centre.pk})
    report.centre = centre
    return locked


def intake_open_case(*, report: IntakeReport, acting_user: Any, pseudonym: str, category: str) -> Any:
    """Triage: a case with the victim, consent as given on the form, and the addresses handed to
    the takedown app (through a hook) as drafts."""
    from cases.models import ConsentMethod, Priority
    from cases.services import case_create

    with transaction.atomic():
        locked = IntakeReport.objects.select_for_update().get(pk=report.pk)
        if locked.case_id:
            raise Conflict(_("A case was already opened for this report."))
        contact = json.loads(locked.contact) if locked.contact else {}
        # Everything the reporter gave goes onto the case: a minor "prefer not to say" stays
        # unknown (None), urgency becomes the case's priority, contact wishes the victim's.
        case = case_create(
            acting_user=acting_user, category=category, summary=locked.description,
            victim={"pseudonym": pseudonym, "is_minor": locked.is_minor, "language": locked.language,
                    "legal_name": str(contact.get("name", ""))[:300], "contact_email": str(contact.get("email", ""))[:300],
                    "contact_phone": str(contact.get("phone", ""))[:40],
                    "safe_contact_channel": contact_channel(contact),
                    "safe_contact_times": str(contact.get("times", ""))[:200],
                    "may_leave_messages": bool(contact.get("may_leave_messages"))},
            consent={"takedown": locked.consent_takedown, "hash_sharing": locked.consent_hash_sharing,
                     "police_referral": locked.consent_police_referral, "legal_support": locked.consent_legal_support},
            consent_method=ConsentMethod.ONLINE_FORM,
            priority=Priority.URGENT if locked.urgent else Priority.NORMAL,
            is_spreading=locked.is_spreading, threatened=locked.threatened,
        )  # fmt: skip
        _link(locked, case, acting_user, "intake.case_opened")
    return case


def contact_channel(contact: dict[str, Any]) -> str:
    """The channel the reporter chose; when they chose none but gave one way to reach them,
    that way (someone who leaves an e-mail address expects an e-mail). Nothing: do not contact."""
    from cases.models import ContactChannel

    if contact.get("channel") in ContactChannel.values:
        return str(contact["channel"])
    if contact.get("email"):  # with a phone number too, e-mail is the quieter way
        return ContactChannel.EMAIL
    if contact.get("phone"):
        return ContactChannel.PHONE
    return ContactChannel.NONE


def _link(report: IntakeReport, case: Any, acting_user: Any, action: str) -> None:
    """A report joins a case: its addresses become takedown drafts and its files evidence (via hooks)."""
    report.case = case
    report.status = IntakeStatus.CASE_OPENED
    report.triaged_by = acting_user
    report.save(update_fields=["case", "status", "triaged_by"])
    audit.record(action, actor=acting_user, obj=report, details={"case": case.pk})
    hooks.fire("intake_urls_added", report=report, urls=list(report.urls.all()))
    hooks.fire("intake_case_opened", report=report, case=case)


def purge_stale_reports() -> int:
    """Deletes reports never turned into a case after INTAKE_RETENTION_DAYS (0: never), leaving
    an audited record that (and how many) were deleted — never what they said. The daily
    retention run does this among its policies (cases/retention.py)."""
    from datetime import timedelta

    from cases.retention import INTAKE_REPORTS, reports_purge

    if not settings.INTAKE_RETENTION_DAYS:
        return 0
    cutoff = timezone.localdate() - timedelta(days=settings.INTAKE_RETENTION_DAYS)
    ids = list(IntakeReport.objects.filter(case__isnull=True, received_on__lt=cutoff).values_list("pk", flat=True))
    return reports_purge(report_ids=ids, policy=INTAKE_REPORTS) if ids else 0


def intake_attach_to_case(*, report: IntakeReport, case: Any, acting_user: Any) -> None:
    """Triage into an existing case (the reporter already has one): addresses become drafts on it
    and files become its evidence. The case's recorded consent stays as it is."""
    with transaction.atomic():
        locked = IntakeReport.objects.select_for_update().get(pk=report.pk)
        if locked.case_id:
            raise ServiceError(_("This report is already linked to a case."))
        _link(locked, case, acting_user, "intake.attached")
