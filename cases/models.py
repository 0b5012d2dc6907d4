from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField
from core.models import Centre


class Category(models.TextChoices):
    DEEPFAKE = "deepfake", _("Deepfake")
    INTIMATE_IMAGE = "intimate_image", _("Intimate image shared without consent")
    ILLICIT_FILMING = "illicit_filming", _("Illicit filming")
    SEXTORTION = "sextortion", _("Sextortion")
    PERSONAL_INFO = "personal_info", _("Personal information exposed")
    OTHER = "other", _("Other")


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    MONITORING = "monitoring", _("Monitoring")
    CLOSED = "closed", _("Closed")


class Priority(models.TextChoices):
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class ContactChannel(models.TextChoices):
    NONE = "none", _("Do not contact")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone call")
    SMS = "sms", _("Text message")
    POST = "post", _("Post")


class ConsentKind(models.TextChoices):
    TAKEDOWN = "takedown", _("Takedown requests to platforms")
    HASH_SHARING = "hash_sharing", _("Sharing fingerprints with partner platforms")
    POLICE_REFERRAL = "police_referral", _("Referral to the police")
    LEGAL_SUPPORT = "legal_support", _("Legal support")


class ConsentMethod(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("By phone")
    ONLINE_FORM = "online_form", _("Online form")
    WRITTEN = "written", _("In writing")
    API = "api", _("Through a partner system")


class Victim(models.Model):
    """The person the case is about. Identity and contact are encrypted at rest."""

    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, related_name="victims")
    pseudonym = models.CharField(max_length=100)
    legal_name = EncryptedTextField(blank=True, default="")
    contact_email = EncryptedTextField(blank=True, default="")
    contact_phone = EncryptedTextField(blank=True, default="")
    is_minor = models.BooleanField(default=False)
    # Not known whether under 18 (or the reporter preferred not to say): kept as such, never read
    # as "no". A separate flag rather than a null is_minor, so every "minor, so urgent" rule in the
    # other apps keeps reading a plain bool. See the `minor` property for the three-way answer.
    minor_unknown = models.BooleanField(default=False)
    language = models.CharField(max_length=10, default="ko")
    safe_contact_channel = models.CharField(max_length=10, choices=ContactChannel.choices, default=ContactChannel.NONE)
    safe_contact_times = models.CharField(max_length=200, blank=True, default="")
    may_leave_messages = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def minor(self) -> bool | None:
        """Under 18: True, False, or None when not known."""
        return None if self.minor_unknown else self.is_minor

    def language_name(self) -> str:
        """The preferred language's name in the reader's language (never the bare code)."""
        from django.utils.translation import get_language_info

        try:
            return str(get_language_info(self.language)["name_translated"])
        except KeyError:
            return {"zh": str(_("Chinese"))}.get(self.language, self.language)


class CaseReferenceCounter(models.Model):
    """Per-year sequence for human-readable references (KR-2026-000123)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class Case(models.Model):
    reference = models.CharField(max_length=32, unique=True)
    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, related_name="cases")
    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="cases")
    category = models.CharField(max_length=20, choices=Category.choices)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.NEW, db_index=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL, db_index=True)
    is_spreading = models.BooleanField(default=False, help_text=_("The material is actively spreading."))
    threatened = models.BooleanField(default=False, help_text=_("Someone threatens the victim or asks for money."))
    summary = EncryptedTextField(blank=True, default="")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="assigned_cases"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_cases")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["centre", "status"]), models.Index(fields=["assigned_to", "status"])]

    def __str__(self) -> str:
        return self.reference

    @cached_property
    def active_legal_hold(self) -> LegalHold | None:
        """The legal hold in force, if any: while there is one, nothing of the case is purged."""
        return self.legal_holds.filter(lifted_at__isnull=True).select_related("set_by").first()


class ConsentRecord(models.Model):
    """One decision about one kind of consent. History is kept; the newest per kind is in force."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    granted = models.BooleanField()
    method = models.CharField(max_length=12, choices=ConsentMethod.choices)
    note = models.CharField(max_length=500, blank=True, default="")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["case", "kind", "-recorded_at"])]


class ReferralKind(models.TextChoices):
    POLICE = "police", _("Police")
    LEGAL_AID = "legal_aid", _("Legal aid")
    COUNSELLING = "counselling", _("Counselling")


class ReferralStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    CLOSED = "closed", _("Closed")


class Referral(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="referrals")
    kind = models.CharField(max_length=12, choices=ReferralKind.choices)
    organisation = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PROPOSED)
    note = EncryptedTextField(blank=True, default="")
    consent_overridden = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]


class EventKind(models.TextChoices):
    CREATED = "created", _("Case opened")
    NOTE = "note", _("Note")
    STATUS = "status", _("Status changed")
    ASSIGNMENT = "assignment", _("Assigned")
    CONSENT = "consent", _("Consent recorded")
    CONSENT_OVERRIDE = "consent_override", _("Consent overridden")
    REFERRAL = "referral", _("Referral")
    EDIT = "edit", _("Details edited")
    TAKEDOWN = "takedown", _("Takedown")
    EVIDENCE = "evidence", _("Evidence")
    LEGAL_HOLD = "legal_hold", _("Legal hold")
    DELETION_REQUEST = "deletion_request", _("Deletion request")


class CaseEvent(models.Model):
    """The case timeline: notes written by staff and events written by services."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    text = EncryptedTextField(blank=True, default="")
    # Codes, not sentences (e.g. {"kind": "takedown", "granted": true}), so each reader sees
    # the entry in their own language. Never victim content: that goes in the encrypted text.
    data = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def describe(self) -> str:
        """A one-line summary in the reader's language, built from the stored codes."""
        d = self.data or {}
        kinds = {**dict(ConsentKind.choices), **dict(ReferralKind.choices)}
        statuses = {**dict(CaseStatus.choices), **dict(ReferralStatus.choices)}
        methods = dict(ConsentMethod.choices)

        def label(table: dict[str, Any], key: str) -> str:
            value = str(d.get(key, ""))
            return str(table.get(value, value))

        if self.kind == EventKind.CONSENT and d:
            answer = _("given") if d.get("granted") else _("withdrawn or refused")
            return f"{label(kinds, 'kind')}: {answer} ({label(methods, 'method')})"
        if self.kind == EventKind.STATUS and d:
            return f"{label(statuses, 'from')} → {label(statuses, 'to')}"
        if self.kind == EventKind.REFERRAL and d:
            text = label(kinds, "referral_kind")
            if d.get("to"):
                text += f" · {label(statuses, 'from')} → {label(statuses, 'to')}"
            return text
        if self.kind == EventKind.CONSENT_OVERRIDE and d:
            return label(kinds, "kind")
        if self.kind == EventKind.TAKEDOWN and d:
            # Written by the takedown app; cases keeps its own words for them (no import upward).
            words = {
                "sent": _("notice delivered"), "removed": _("removal confirmed by our check"),
                "reappeared": _("material found again"), "failed": _("notice failed"), "rejected": _("platform refused"),
                "deadline_soon": _("deadline in two hours"), "overdue": _("deadline passed"),
                "escalated": _("escalated to the regulator"), "found_again": _("known material found again by a watchlist scan"),
                "unavailable": _("gone before a notice was needed"), "acknowledged": _("platform acknowledged"),
                "queued": _("notice waiting to be sent"),
                "cloak_suspected": _("the page looked gone to one check but a second look found the material: suspected cloaking"),
            }  # fmt: skip
            text = f"#{d.get('request', '')}: {words.get(str(d.get('status', '')), d.get('status', ''))}"
            # A duplicate follows the request first made for the same page (docs/takedowns.md).
            return f"{text} ({_('as the request it follows')})" if d.get("followed") else text
        if self.kind == EventKind.LEGAL_HOLD and d:
            return str(_("hold set") if d.get("hold") == "set" else _("hold lifted"))
        if self.kind == EventKind.DELETION_REQUEST and d:
            return label(dict(DeletionStatus.choices), "status")
        return ""


class IntakeStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    IN_REVIEW = "in_review", _("Being reviewed")
    CASE_OPENED = "case_opened", _("Case opened")
    CLOSED = "closed", _("Closed")
    DELETION_REQUESTED = "deletion_requested", _("Deletion requested")


class ReporterRole(models.TextChoices):
    VICTIM = "victim", _("The person in the material")
    HELPER = "helper", _("Someone helping them")


class IntakeReport(models.Model):
    """A report from the public form. Stores no IP address and no user agent, anywhere.

    The receipt code is never stored: only a SHA-256 of it (to find the report) and a slow scrypt
    hash (to confirm it), so a copy of the database does not reveal receipts.
    """

    receipt_lookup = models.CharField(max_length=64, unique=True)
    receipt_hash = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=IntakeStatus.choices, default=IntakeStatus.RECEIVED, db_index=True)
    description = EncryptedTextField(blank=True, default="")
    contact = EncryptedTextField(blank=True, default="")  # JSON: name, email, phone, channel, times, may_leave_messages
    is_minor = models.BooleanField(null=True, blank=True)
    is_spreading = models.BooleanField(default=False)
    threatened = models.BooleanField(default=False)
    urgent = models.BooleanField(default=False, db_index=True)  # a minor, ongoing spread or threats: triaged first
    reporter_role = models.CharField(max_length=10, choices=ReporterRole.choices, default=ReporterRole.VICTIM)
    language = models.CharField(max_length=10, default="ko")
    consent_takedown = models.BooleanField(default=False)
    consent_hash_sharing = models.BooleanField(default=False)
    consent_police_referral = models.BooleanField(default=False)
    consent_legal_support = models.BooleanField(default=False)
    case = models.ForeignKey(Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="intake_reports")
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Only the day: the exact time adds nothing staff need and could help identify a reporter.
    received_on = models.DateField(db_index=True)
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    # The centre the reporter chose, or the one triage routed it to. Empty: not routed yet, so
    # only the triage centre (settings.INTAKE_TRIAGE_CENTRE) sees it (cases/selectors.py).
    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, null=True, blank=True, related_name="intake_reports")

    class Meta:
        ordering = ["-urgent", "-received_on", "-id"]


class IntakeURL(models.Model):
    report = models.ForeignKey(IntakeReport, on_delete=models.CASCADE, related_name="urls")
    url = models.URLField(max_length=2000)
    takedown_id = models.BigIntegerField(null=True, blank=True)  # set at triage; cases never imports takedowns


class IntakeFingerprint(models.Model):
    """Fingerprints a browser computed so that the picture never left the device."""

    report = models.ForeignKey(IntakeReport, on_delete=models.CASCADE, related_name="fingerprints")
    algorithm = models.CharField(max_length=10)
    value = models.CharField(max_length=64)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)  # PDQ quality as the browser computed it
    mirrored = models.BooleanField(default=False)


class IntakeMessage(models.Model):
    """Messages between the reporter (through the status page) and the caseworker."""

    report = models.ForeignKey(IntakeReport, on_delete=models.CASCADE, related_name="messages")
    from_staff = models.BooleanField()
    text = EncryptedTextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Only the day, never the time: the reporter's actions keep no time of day (DESIGN.md).
    sent_on = models.DateField()

    class Meta:
        ordering = ["id"]


class IntakeReadMark(models.Model):
    """How far one staff member has read a report's thread (the newest message id seen).

    Per person, not per report: in a centre several people look at a report (the triage desk,
    a supervisor, the assigned caseworker), and one of them glancing at it must not hide a
    victim's message from the others.
    """

    report = models.ForeignKey(IntakeReport, on_delete=models.CASCADE, related_name="read_marks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "user"], name="one_read_mark_per_report_and_user")]


# Retention: legal holds, deletion requests and what remains of deleted reports (docs/retention.md).


class LegalHold(models.Model):
    """A supervisor's order to keep a case (an investigation, a court order, a complaint pending).

    While a hold is active (lifted_at empty) no retention purge touches the case, whether by the
    closed-case policy or by a deletion request. History is kept: lifting fills lifted_*.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="legal_holds")
    # Staff-only text that may cite an investigation; encrypted like other case text.
    reason = EncryptedTextField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-set_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=models.Q(lifted_at__isnull=True), name="one_active_legal_hold")
        ]


class DeletionSource(models.TextChoices):
    REPORTER = "reporter", _("The reporter, on the status page")
    STAFF = "staff", _("A caseworker, for the victim")


class DeletionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a supervisor")
    APPROVED = "approved", _("Approved, being carried out")
    ON_HOLD = "on_hold", _("Approved, waiting for a legal hold")
    REFUSED = "refused", _("Refused")
    DONE = "done", _("Carried out")


OPEN_DELETION_STATUSES = [DeletionStatus.PENDING, DeletionStatus.APPROVED, DeletionStatus.ON_HOLD]


class DeletionRequest(models.Model):
    """A victim's request to delete their data: a whole case, or a public report without a case.

    A supervisor approves or refuses; an approved request is carried out by the same purge as the
    retention policies, unless a legal hold applies (then it waits, ON_HOLD). After the purge the
    row keeps only the case reference (not victim data), dates and who decided, until
    RETENTION_TOMBSTONE_DAYS have passed.
    """

    case = models.ForeignKey(Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="deletion_requests")
    report = models.ForeignKey("IntakeReport", on_delete=models.SET_NULL, null=True, blank=True, related_name="deletion_requests")
    case_reference = models.CharField(max_length=32, blank=True, default="")
    # The case's centre, kept after the purge so its supervisors still see the outcome; empty for a
    # public report without a case (every centre's staff triage those).
    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=10, choices=DeletionSource.choices)
    status = models.CharField(max_length=10, choices=DeletionStatus.choices, default=DeletionStatus.PENDING, db_index=True)
    note = EncryptedTextField(blank=True, default="")  # how the victim asked, written by staff
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = EncryptedTextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status__in=OPEN_DELETION_STATUSES), name="one_open_deletion_per_case"
            ),
            models.UniqueConstraint(
                fields=["report"], condition=models.Q(status__in=OPEN_DELETION_STATUSES), name="one_open_deletion_per_report"
            ),
        ]


class TombstoneReason(models.TextChoices):
    REQUEST = "request", _("Deleted at the reporter's request")
    RETENTION = "retention", _("Deleted by the retention policy")


class DeletionTombstone(models.Model):
    """What remains of a deleted public report: the receipt's SHA-256 (as in receipt_lookup), the
    day and why, so the status page can still tell the reporter that it was deleted and when.

    Nothing else: no text, no case, no time of day. Kept for RETENTION_TOMBSTONE_DAYS.
    """

    receipt_lookup = models.CharField(max_length=64, unique=True)
    deleted_on = models.DateField(db_index=True)
    reason = models.CharField(max_length=10, choices=TombstoneReason.choices)
