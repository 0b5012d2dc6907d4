"""Platforms, takedown requests, notices (the outbox), delivery attempts and re-checks."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Case
from core.crypto import EncryptedTextField
from evidence.models import Evidence, Fingerprint


class Channel(models.TextChoices):
    API = "api", _("Notice API")
    EMAIL = "email", _("E-mail")
    MANUAL = "manual", _("Web form (manual)")


class Platform(models.Model):
    name = models.CharField(max_length=120, unique=True)
    domains = models.JSONField(default=list, help_text=_("Host names or IP addresses this platform serves."))
    jurisdiction = models.CharField(max_length=8, default="KR")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    endpoint = models.URLField(blank=True, default="", max_length=500)
    secret = EncryptedTextField(blank=True, default="")
    email = models.EmailField(blank=True, default="")
    web_form_url = models.URLField(blank=True, default="", max_length=500)
    instructions = models.TextField(blank=True, default="")
    notice_language = models.CharField(max_length=10, default="en")
    sla_hours = models.PositiveIntegerField(default=24)
    escalation_name = models.CharField(max_length=200, blank=True, default="", help_text=_("The regulator to escalate to."))
    escalation_email = models.EmailField(blank=True, default="")
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    REMOVED = "removed", _("Removed")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")
    REAPPEARED = "reappeared", _("Reappeared")
    # The page was already gone when the worker looked, before the first notice: nothing was sent,
    # and the request is no platform's business (it counts in no compliance figure).
    UNAVAILABLE = "unavailable", _("Gone before a notice was needed")


OPEN_STATUSES = [RequestStatus.QUEUED, RequestStatus.SENT, RequestStatus.ACKNOWLEDGED, RequestStatus.REAPPEARED]
# What a request "is working on" a URL: a new request for the same URL follows it instead of
# sending a second notice (docs/takedowns.md, "Duplicates"). Removed ones are still watched.
LEADING_STATUSES = [*OPEN_STATUSES, RequestStatus.REMOVED]
# A case whose every request is in one of these has nothing left to chase: it is monitored.
FINISHED_STATUSES = [RequestStatus.REMOVED, RequestStatus.UNAVAILABLE]


class TakedownRequest(models.Model):
    """One URL to be removed. Followed until the system's own check finds it gone, then watched."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="takedowns")
    url = models.URLField(max_length=2000)
    # takedowns.urlnorm.url_key(url): the same page however it was spelled; finds duplicates by index.
    url_key = models.CharField(max_length=2000, blank=True, default="", db_index=True)
    host = models.CharField(max_length=255, db_index=True)
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, null=True, blank=True, related_name="requests")
    # The request (in any case of any centre) already working on the same page. Once approved, this
    # request sends nothing and mirrors that one's status (docs/takedowns.md, "Duplicates").
    duplicate_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="followers")
    evidence = models.ManyToManyField(Evidence, blank=True, related_name="takedowns")
    status = models.CharField(max_length=14, choices=RequestStatus.choices, default=RequestStatus.DRAFT, db_index=True)
    urgent = models.BooleanField(default=False)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    reappeared_at = models.DateTimeField(null=True, blank=True)
    unavailable_at = models.DateTimeField(null=True, blank=True)
    # Removal confirmation (docs/takedowns.md): a look that found the page gone sets this; the request
    # stays in its status until a second look, REMOVAL_CONFIRM_DELAY_S later over a new connection,
    # agrees (then removed_at or unavailable_at takes this time) or finds the material (then cleared,
    # and the first look is recorded as a suspected cloak).
    removal_seen_at = models.DateTimeField(null=True, blank=True)
    # The last time a page answered "gone" to one look and showed the material to the next: a site that
    # may show the centre something other than what its visitors see. cloak_suspicions counts them.
    cloak_suspected_at = models.DateTimeField(null=True, blank=True)
    cloak_suspicions = models.PositiveIntegerField(default=0)
    ticket = models.CharField(max_length=200, blank=True, default="")
    platform_message = models.CharField(max_length=2000, blank=True, default="")
    reminded_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False, db_index=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    check_count = models.PositiveIntegerField(default=0)
    watch_until = models.DateTimeField(null=True, blank=True)
    last_notice_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    consent_overridden = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["case", "url"], name="one_request_per_url_per_case")]
        indexes = [
            models.Index(fields=["platform", "status"]),
            models.Index(fields=["status", "next_check_at"]),
            models.Index(fields=["status", "deadline"]),
            # Compliance figures and their drill-down: every query is scoped by sent_at (a range, and
            # the drill-down's ORDER BY sent_at, pk LIMIT 1000). Migration 0005.
            models.Index(fields=["sent_at"], name="compliance_sent_at"),
        ]

    def __str__(self) -> str:
        return self.url


class NoticeKind(models.TextChoices):
    INITIAL = "initial", _("Notice")
    RESEND = "resend", _("Repeat notice")
    ESCALATION = "escalation", _("Escalation to regulator")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to send")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    MANUAL = "manual", _("Waiting for a person (web form)")
    DONE = "done", _("Done by hand")
    CANCELLED = "cancelled", _("Not sent: the page was already gone")


class Notice(models.Model):
    """The outbox. Written in the same transaction as the approval; the broker only wakes a worker.

    A worker claims a row with a conditional UPDATE (status pending → sending), so two workers
    never send the same notice; the idempotency key travels with every try.
    """

    request = models.ForeignKey(TakedownRequest, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=12, choices=NoticeKind.choices, default=NoticeKind.INITIAL)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    language = models.CharField(max_length=10, default="en")
    recipient = models.CharField(max_length=500, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=2000, blank=True, default="")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]


class DeliveryAttempt(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="attempts_log")
    at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=20)  # delivered, retry, rate_limited, failed
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=2000, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]


class CheckOutcome(models.TextChoices):
    STILL_UP = "still_up", _("Still up")
    REMOVED = "removed", _("Removed")
    INCONCLUSIVE = "inconclusive", _("Inconclusive")


class Check(models.Model):
    request = models.ForeignKey(TakedownRequest, on_delete=models.CASCADE, related_name="checks")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    outcome = models.CharField(max_length=14, choices=CheckOutcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    distance = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True, default="")
    # The second look of a removal confirmation: a new connection, another browser's User-Agent.
    second_look = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]


# Partner hash sharing (docs/matching.md, "Partner hash sharing") ----------------------------------


class HashListAction(models.TextChoices):
    ADD = "add", _("Added to the list")
    DELETE = "delete", _("Removed from the list")


class HashListEvent(models.Model):
    """The shared hash list as an append-only log (the database refuses UPDATE and DELETE).

    The id is the partners' cursor. A fingerprint is on the list when its newest event is an add.
    Writers are serialised (takedowns.hashlist), so ids are assigned in commit order and a partner
    reading "everything after my cursor" never skips an event committed late.

    The events outlive their fingerprint: when the retention process deletes a case, each of its
    fingerprints on the list gets a delete event first, and partners must still read it after the
    fingerprint row is gone. So the link has no database constraint (and is nullable only so that
    reads join it as optional); fingerprint_id keeps the id partners know.
    """

    fingerprint = models.ForeignKey(
        Fingerprint, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="hashlist_events"
    )
    action = models.CharField(max_length=6, choices=HashListAction.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["fingerprint", "-id"], name="hashlist_event_latest")]


class FeedbackVerdict(models.TextChoices):
    BLOCKED = "blocked", _("Matched and blocked")
    NOT_BLOCKED = "not_blocked", _("Matched, not blocked")
    FALSE_POSITIVE = "false_positive", _("False positive")


class HashFeedback(models.Model):
    """One partner's report on one listed fingerprint. Append-only."""

    fingerprint = models.ForeignKey(Fingerprint, on_delete=models.PROTECT, related_name="hash_feedback")
    partner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=14, choices=FeedbackVerdict.choices)
    reason = models.CharField(max_length=1000, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["fingerprint", "verdict", "at"], name="hash_feedback_count")]


class HashQuarantine(models.Model):
    """A fingerprint kept off the list after repeated false-positive reports, until a person releases it.

    One row per fingerprint: a release fills released_*; a later quarantine (new reports after the
    release) starts the row again. The audit log keeps every quarantine and release.
    """

    fingerprint = models.OneToOneField(Fingerprint, on_delete=models.PROTECT, related_name="hash_quarantine")
    since = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True, default="")
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)

    @property
    def active(self) -> bool:
        return self.released_at is None


class NegativeFingerprint(models.Model):
    """A known false positive (a stock background, a meme template): never reported as a match."""

    algorithm = models.CharField(max_length=10)
    value = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["algorithm", "value"], name="one_negative_per_value")]


class Watchlist(models.Model):
    """A page, channel or listing scanned on a schedule for known material."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True, related_name="watchlists")
    url = models.URLField(max_length=2000)
    label = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=360)
    next_scan_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_scanned_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class WatchlistHit(models.Model):
    """Known material found by a scan: the media URL, the evidence it matched, the draft made."""

    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="hits")
    media_url = models.URLField(max_length=2000)
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="+")
    algorithm = models.CharField(max_length=10)
    distance = models.PositiveSmallIntegerField()
    takedown = models.ForeignKey(TakedownRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]


class ComplianceDay(models.Model):
    """Daily roll-up of the compliance figures: one row per day (of sent_at, in the centre's time
    zone), platform and case category. Kept current by takedowns.rollup.refresh, which rebuilds the
    days that triggers mark in ComplianceDirty. Holds no URL, case or victim: only counts and the
    few numbers per request that exact percentiles and "overdue now" need, packed little-endian."""

    day = models.DateField()
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    category = models.CharField(max_length=32)
    requests = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    in_time = models.PositiveIntegerField(default=0)
    reappeared = models.PositiveIntegerField(default=0)
    escalations = models.PositiveIntegerField(default=0)
    renotices = models.PositiveIntegerField(default=0)
    # int32 seconds from first delivery to removal / to the platform's first answer, one per request.
    removal_seconds = models.BinaryField(default=b"")
    answer_seconds = models.BinaryField(default=b"")
    # int64 epoch seconds: deadlines of requests not removed, and of requests still open (both
    # compared with "now" when figures are read, so the roll-up never goes stale as time passes).
    unremoved_deadlines = models.BinaryField(default=b"")
    open_deadlines = models.BinaryField(default=b"")
    # int64 epoch seconds of each removal and each reappearance (the weekly charts count them).
    removed_times = models.BinaryField(default=b"")
    reappeared_times = models.BinaryField(default=b"")

    class Meta:
        indexes = [models.Index(fields=["day", "platform"], name="compliance_day")]


class ComplianceDirty(models.Model):
    """Hours (of sent_at) whose requests changed since the last roll-up refresh. Filled by
    PostgreSQL triggers on takedown requests, their re-notices and their cases' category (migration
    takedowns 0006), emptied by takedowns.rollup.refresh.

    Append-only on purpose, with no unique hour: "insert if missing" would let a change whose
    transaction commits just after a refresh's DELETE be forgotten (its INSERT found the old row
    and did nothing). Each change adds its own row; a refresh deletes only what it could see."""

    hour = models.DateTimeField()
