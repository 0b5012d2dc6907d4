"""Writes on cases, victims, consent, referrals and the timeline.

Each function takes `acting_user`, checks the role, writes its audit event in the same
transaction, and adds a timeline entry where a caseworker would expect one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import (
    Case,
    CaseEvent,
    CaseReferenceCounter,
    CaseStatus,
    Category,
    ConsentKind,
    ConsentMethod,
    ConsentRecord,
    ContactChannel,
    EventKind,
    Priority,
    Referral,
    ReferralKind,
    ReferralStatus,
    Victim,
)
from cases.selectors import has_consent
from core import audit, hooks
from core.errors import ConsentRequired, PermissionDenied, ServiceError
from core.models import User
from core.roles import CASE_ROLES, Role

# Which consent each referral needs. Counselling is offered to everyone.
REFERRAL_CONSENT = {ReferralKind.POLICE: ConsentKind.POLICE_REFERRAL, ReferralKind.LEGAL_AID: ConsentKind.LEGAL_SUPPORT}
VICTIM_FIELDS = (
    "pseudonym",
    "legal_name",
    "contact_email",
    "contact_phone",
    "is_minor",
    "language",
    "safe_contact_channel",
    "safe_contact_times",
    "may_leave_messages",
)


def _require_case_role(user: User) -> None:
    if user.role not in CASE_ROLES or user.centre_id is None:
        raise PermissionDenied(_("Only caseworkers and supervisors work on cases."))


def _event(case: Case, event_kind: str, text: str, author: User | None, data: dict[str, Any] | None = None) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=event_kind, text=text, author=author, data=data or {})


def _next_reference() -> str:
    year = timezone.localdate().year
    CaseReferenceCounter.objects.get_or_create(year=year)
    counter = CaseReferenceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{settings.CASE_REFERENCE_PREFIX}-{year}-{counter.last:06d}"


def _apply_priority(case: Case) -> None:
    # A minor, or material that is actively spreading, always makes a case urgent.
    if case.victim.is_minor or case.is_spreading:
        case.priority = Priority.URGENT


def _clean_victim(data: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key in VICTIM_FIELDS:
        if key in data and data[key] is not None:
            cleaned[key] = data[key]
    if "is_minor" in data:
        # Three answers: True, False, or None for "not known" (kept as minor_unknown).
        cleaned["minor_unknown"] = data["is_minor"] is None
        cleaned["is_minor"] = bool(data["is_minor"])
    if "pseudonym" in cleaned:
        cleaned["pseudonym"] = str(cleaned["pseudonym"]).strip()
        if not cleaned["pseudonym"]:
            raise ServiceError(_("Give the victim a pseudonym (not their real name)."), field="pseudonym")
        if len(cleaned["pseudonym"]) > 100:
            raise ServiceError(_("The pseudonym is too long (100 characters at most)."), field="pseudonym")
    if "safe_contact_channel" in cleaned and cleaned["safe_contact_channel"] not in ContactChannel.values:
        raise ServiceError(_("Unknown contact channel."), field="safe_contact_channel")
    if "language" in cleaned and (not isinstance(cleaned["language"], str) or len(cleaned["language"]) > 10):
        raise ServiceError(_("Language must be a short code such as ko or en."), field="language")
    return cleaned


@transaction.atomic
def case_create(
    *,
    acting_user: User,
    category: str,
    victim: dict[str, Any],
    summary: str = "",
    consent: dict[str, bool] | None = None,
    consent_method: str = ConsentMethod.IN_PERSON,
    is_spreading: bool = False,
    priority: str = Priority.NORMAL,
    assigned_to: User | None = None,
    threatened: bool = False,
) -> Case:
    _require_case_role(acting_user)
    if category not in Category.values:
        raise ServiceError(
            _("Unknown category. Choose one of: %(list)s.") % {"list": ", ".join(Category.values)}, field="category"
        )
    if priority not in Priority.values:
        raise ServiceError(_("Unknown priority."), field="priority")
    victim_data = _clean_victim(victim)
    if "pseudonym" not in victim_data:
        raise ServiceError(_("Give the victim a pseudonym (not their real name)."), field="pseudonym")
    centre = acting_user.centre
    assert centre is not None
    person = Victim.objects.create(centre=centre, **victim_data)
    if assigned_to is None and acting_user.role == Role.CASEWORKER and not acting_user.is_service_account:
        assigned_to = acting_user
    case = Case(
        reference=_next_reference(),
        centre=centre,
        victim=person,
        category=category,
        summary=summary,
        is_spreading=is_spreading,
        threatened=threatened,
        priority=priority,
        assigned_to=assigned_to,
        created_by=acting_user,
    )
    _apply_priority(case)
    case.save()
    audit.record("case.create", actor=acting_user, obj=case, details={"reference": case.reference, "category": category})
    _event(case, EventKind.CREATED, "", acting_user)
    for kind, granted in (consent or {}).items():
        if kind not in ConsentKind.values:
            raise ServiceError(_("Unknown consent %(kind)s.") % {"kind": kind}, field="consent")
        consent_record(case=case, kind=kind, granted=bool(granted), method=consent_method, acting_user=acting_user)
    return case


@transaction.atomic
def case_update(*, case: Case, acting_user: User, **fields: Any) -> Case:
    """Edits case details and victim details. Only the names of changed fields are audited."""
    _require_case_role(acting_user)
    changed: list[str] = []
    for key in ("category", "summary", "is_spreading", "threatened", "priority"):
        if key in fields and fields[key] is not None and getattr(case, key) != fields[key]:
            if key == "category" and fields[key] not in Category.values:
                raise ServiceError(_("Unknown category."), field="category")
            if key == "priority" and fields[key] not in Priority.values:
                raise ServiceError(_("Unknown priority."), field="priority")
            setattr(case, key, fields[key])
            changed.append(key)
    victim_data = _clean_victim(fields.get("victim") or {})
    victim = case.victim
    for key, value in victim_data.items():
        if getattr(victim, key) != value:
            setattr(victim, key, value)
            changed.append(f"victim.{key}")
    if not changed:
        return case
    victim.save()
    _apply_priority(case)
    case.save()
    audit.record("case.update", actor=acting_user, obj=case, details={"fields": changed})
    _event(case, EventKind.EDIT, ", ".join(changed), acting_user)
    return case


@transaction.atomic
def case_set_status(*, case: Case, status: str, acting_user: User, reason: str = "") -> Case:
    _require_case_role(acting_user)
    if status not in CaseStatus.values:
        raise ServiceError(_("Unknown status."), field="status")
    if status == case.status:
        return case
    old = case.status
    case.status = status
    case.closed_at = timezone.now() if status == CaseStatus.CLOSED else None
    case.save(update_fields=["status", "closed_at", "updated_at"])
    audit.record("case.status", actor=acting_user, obj=case, details={"from": old, "to": status})
    _event(case, EventKind.STATUS, reason, acting_user, {"from": old, "to": status})
    return case


@transaction.atomic
def case_assign(*, case: Case, assignee: User | None, acting_user: User) -> Case:
    """Supervisors assign work within their own centre."""
    if acting_user.role != Role.SUPERVISOR:
        raise PermissionDenied(_("Only a supervisor assigns cases."))
    if assignee is not None and (
        assignee.centre_id != case.centre_id or assignee.role not in CASE_ROLES or not assignee.is_active
    ):
        raise ServiceError(_("Cases can only be assigned to active caseworkers of the same centre."), field="assigned_to")
    case.assigned_to = assignee
    if case.status == CaseStatus.NEW and assignee is not None:
        case.status = CaseStatus.OPEN
    case.save(update_fields=["assigned_to", "status", "updated_at"])
    audit.record("case.assign", actor=acting_user, obj=case, details={"assignee": assignee.pk if assignee else None})
    _event(case, EventKind.ASSIGNMENT, assignee.username if assignee else "-", acting_user)
    return case


@transaction.atomic
def case_add_note(*, case: Case, text: str, acting_user: User) -> CaseEvent:
    _require_case_role(acting_user)
    text = text.strip()
    if not text:
        raise ServiceError(_("The note is empty."), field="text")
    if len(text) > 20000:
        raise ServiceError(_("The note is too long (20,000 characters at most)."), field="text")
    event = _event(case, EventKind.NOTE, text, acting_user)
    audit.record("case.note", actor=acting_user, obj=case, details={"event": event.pk})
    return event


@transaction.atomic
def consent_record(*, case: Case, kind: str, granted: bool, method: str, acting_user: User, note: str = "") -> ConsentRecord:
    """Records a consent given or withdrawn. Withdrawal is just a newer record saying no."""
    _require_case_role(acting_user)
    if kind not in ConsentKind.values:
        raise ServiceError(_("Unknown consent."), field="kind")
    if method not in ConsentMethod.values:
        raise ServiceError(_("Say how the consent was given."), field="method")
    record = ConsentRecord.objects.create(
        case=case, kind=kind, granted=granted, method=method, note=note[:500], recorded_by=acting_user
    )
    audit.record(
        "consent.grant" if granted else "consent.withdraw",
        actor=acting_user,
        obj=case,
        details={"kind": kind, "method": method, "record": record.pk},
    )
    _event(case, EventKind.CONSENT, note, acting_user, {"kind": kind, "granted": granted, "method": method})
    # Later apps act on consent in this same transaction (the hash list drops withdrawn material at once).
    hooks.fire("consent_changed", case=case, kind=kind, granted=granted, acting_user=acting_user)
    return record


def consent_require(*, case: Case, kind: str, acting_user: User, override_reason: str = "", stepped_up: bool = False) -> bool:
    """Refuses an action the victim has not consented to. Returns True when a supervisor overrode.

    An override is a high-value action: stepped_up says the supervisor has just entered a fresh
    code from their authenticator (core.twofactor.step_up; the sign-in code does not count, and
    an API token, having no person behind it, never overrides).
    Call inside the action's transaction, so the override's audit event commits with the action.
    """
    if has_consent(case, kind):
        return False
    reason = override_reason.strip()
    if not reason:
        raise ConsentRequired(
            _(
                "The victim has not consented to this (%(kind)s). Record their consent first, or a supervisor may override with a written reason."
            )
            % {"kind": ConsentKind(kind).label}
        )
    if acting_user.role != Role.SUPERVISOR:
        raise PermissionDenied(_("Only a supervisor may act without the victim's consent."))
    if len(reason) < 10:
        raise ServiceError(_("Explain the override in a full sentence."), field="override_reason")
    if not stepped_up:
        raise PermissionDenied(
            _("Acting without the victim's consent needs a fresh code from your authenticator."), field="override_code"
        )
    audit.record("consent.override", actor=acting_user, obj=case, details={"kind": kind, "reason": reason[:1000]})
    _event(case, EventKind.CONSENT_OVERRIDE, reason, acting_user, {"kind": kind})
    return True


@transaction.atomic
def referral_create(
    *,
    case: Case,
    kind: str,
    acting_user: User,
    organisation: str = "",
    note: str = "",
    override_reason: str = "",
    stepped_up: bool = False,
) -> Referral:
    _require_case_role(acting_user)
    if kind not in ReferralKind.values:
        raise ServiceError(_("Unknown referral kind."), field="kind")
    overridden = False
    needed = REFERRAL_CONSENT.get(ReferralKind(kind))
    if needed:
        overridden = consent_require(
            case=case, kind=needed, acting_user=acting_user, override_reason=override_reason, stepped_up=stepped_up
        )
    referral = Referral.objects.create(
        case=case,
        kind=kind,
        organisation=organisation[:200],
        note=note,
        consent_overridden=overridden,
        created_by=acting_user,
    )
    audit.record("referral.create", actor=acting_user, obj=case, details={"referral": referral.pk, "kind": kind})
    _event(case, EventKind.REFERRAL, organisation, acting_user, {"referral_kind": kind})
    return referral


@transaction.atomic
def referral_set_status(*, referral: Referral, status: str, acting_user: User) -> Referral:
    _require_case_role(acting_user)
    if status not in ReferralStatus.values:
        raise ServiceError(_("Unknown referral status."), field="status")
    old = referral.status
    referral.status = status
    referral.save(update_fields=["status", "updated_at"])
    audit.record(
        "referral.status", actor=acting_user, obj=referral.case, details={"referral": referral.pk, "from": old, "to": status}
    )
    _event(referral.case, EventKind.REFERRAL, "", acting_user, {"referral_kind": referral.kind, "from": old, "to": status})
    return referral


def case_record_view(*, case: Case, acting_user: User) -> None:
    """Every opening of a case's detail is recorded."""
    audit.record_now("case.view", actor=acting_user, obj=case)


def victim_identity_reveal(*, case: Case, acting_user: User) -> dict[str, str]:
    """Returns the victim's identity and contact, recording that this person saw it."""
    _require_case_role(acting_user)
    audit.record_now("victim.identity_view", actor=acting_user, obj=case, details={"victim": case.victim_id})
    v = case.victim
    return {"legal_name": v.legal_name, "contact_email": v.contact_email, "contact_phone": v.contact_phone}


def case_record_event(
    *, case: Case, kind: str, text: str = "", data: dict[str, Any] | None = None, author: User | None = None
) -> CaseEvent:
    """For other apps (takedowns, evidence) to add entries to a case's timeline. Call in a transaction."""
    return _event(case, kind, text, author, data)


def case_record_events(*, entries: list[tuple[int, str, dict[str, Any]]]) -> int:
    """Many machine-written timeline entries at once, as (case id, kind, data) with no text or
    author: for takedowns updating hundreds of duplicates in one go. Call in a transaction."""
    CaseEvent.objects.bulk_create([CaseEvent(case_id=c, kind=k, data=d) for c, k, d in entries], batch_size=500)
    return len(entries)


def case_status_follow_work(*, case: Case, work_done: bool) -> bool:
    """The case's status follows its takedown work (called by takedowns, in its transaction).

    Every request removed or gone before a notice was needed (work_done): a new or open case goes
    to monitoring. Work again (a reappearance): a monitored case is open again. A closed case is
    never reopened by a machine: closing is a person's decision about the victim's case (perhaps at
    their request), so a reappearance there shows on the request and the lists instead, and a
    person reopens the case. Returns whether the status changed; the change is on the timeline.
    """
    if case.status == CaseStatus.CLOSED:
        return False
    if work_done and case.status not in (CaseStatus.NEW, CaseStatus.OPEN):
        return False
    if not work_done and case.status != CaseStatus.MONITORING:
        return False
    old = case.status
    case.status = CaseStatus.MONITORING if work_done else CaseStatus.OPEN
    case.save(update_fields=["status", "updated_at"])
    audit.record("case.status", actor=None, obj=case, details={"from": old, "to": case.status, "automatic": True})
    _event(case, EventKind.STATUS, "", None, {"from": old, "to": case.status})
    return True
