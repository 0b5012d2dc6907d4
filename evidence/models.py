"""The evidence locker: originals stored encrypted and locked, their fingerprints, derivatives
(previews) and the custody log. Triggers in migration 0002 make the database refuse changes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Case
from core.crypto import EncryptedTextField


class MediaKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    DOCUMENT = "document", _("Document")
    ARCHIVE = "archive", _("Web capture (WARC)")


class EvidenceStatus(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Fingerprinting failed")


class Evidence(models.Model):
    """One original file. Locked from the moment it is stored: content fields never change."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence")
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    media_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=MediaKind.choices)
    # The client's file name, kept as text for people to read; never used as a path.
    original_name = models.CharField(max_length=255, blank=True, default="")
    description = EncryptedTextField(blank=True, default="")
    source_url = models.URLField(max_length=2000, blank=True, default="")
    captured_at = models.DateTimeField(null=True, blank=True)
    storage_key = models.CharField(max_length=200, unique=True)
    wrapped_key = models.TextField()
    key_id = models.CharField(max_length=16)
    locked = models.BooleanField(default=True)
    status = models.CharField(max_length=12, choices=EvidenceStatus.choices, default=EvidenceStatus.READY)
    status_detail = models.CharField(max_length=300, blank=True, default="")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"{self.media_type} {self.sha256[:12]}"


class Derivative(models.Model):
    """Server-made previews (metadata stripped, downscaled), stored encrypted like originals."""

    class Kind(models.TextChoices):
        PREVIEW = "preview", _("Preview")
        PREVIEW_BLURRED = "preview_blurred", _("Blurred preview")

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="derivatives")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    media_type = models.CharField(max_length=50)
    storage_key = models.CharField(max_length=200, unique=True)
    wrapped_key = models.TextField()
    key_id = models.CharField(max_length=16)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["evidence", "kind"], name="one_derivative_per_kind")]


class Fingerprint(models.Model):
    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="fingerprints")
    algorithm = models.CharField(max_length=10)
    value = models.CharField(max_length=64)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    mirrored = models.BooleanField(default=False)
    frame_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame_ms", "algorithm", "mirrored"]
        indexes = [models.Index(fields=["algorithm", "value"])]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "algorithm", "mirrored", "frame_ms"],
                name="one_fingerprint_per_frame",
                nulls_distinct=False,
            )
        ]


class CustodyAction(models.TextChoices):
    UPLOAD = "upload", _("Uploaded")
    CAPTURE = "capture", _("Captured from the web")
    VIEW = "view", _("Viewed (blurred)")
    REVEAL = "reveal", _("Viewed unblurred")
    DOWNLOAD = "download", _("Original downloaded")
    EXPORT = "export", _("Exported")
    VERIFY = "verify", _("Integrity verified")
    VERIFY_FAILED = "verify_failed", _("Integrity check FAILED")
    FINGERPRINT = "fingerprint", _("Fingerprinted")
    REWRAP = "rewrap", _("Encryption key rotated")


class CustodyEvent(models.Model):
    """Who touched the evidence, when and why. Append-only in the database."""

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="custody")
    action = models.CharField(max_length=20, choices=CustodyAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_username = models.CharField(max_length=150, blank=True, default="")
    reason = models.CharField(max_length=1000, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["at", "id"]


class DownloadGrant(models.Model):
    """A supervisor's explicit permission for one person to download one case's originals."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="download_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=1000)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)


class CaptureStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Capturing")
    DONE = "done", _("Captured")
    FAILED = "failed", _("Failed")


class CaptureRequest(models.Model):
    """One URL to preserve. The row is the truth; the queued task is only a wake-up."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="captures")
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=10, choices=CaptureStatus.choices, default=CaptureStatus.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    media_found = models.PositiveIntegerField(default=0)
    media_stored = models.PositiveIntegerField(default=0)
    # The byte budget per capture (CAPTURE_MAX_TOTAL_MB): what was fetched, and whether the budget
    # ran out so that media_skipped of the media found were never fetched.
    bytes_fetched = models.BigIntegerField(default=0)
    cut_short = models.BooleanField(default=False)
    media_skipped = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class IntakeFileState(models.TextChoices):
    PENDING = "pending", _("Waiting to be checked")
    CHECKED = "checked", _("Checked")
    DROPPED = "dropped", _("Could not be read; dropped")


class IntakeFile(models.Model):
    """A file sent with a public report: checked and encrypted like evidence, but not evidence
    until staff open a case from the report (then it is stored again as locked evidence)."""

    report = models.ForeignKey("cases.IntakeReport", on_delete=models.CASCADE, related_name="files")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    media_type = models.CharField(max_length=100)
    original_name = models.CharField(max_length=255, blank=True, default="")
    storage_key = models.CharField(max_length=200, unique=True)
    wrapped_key = models.TextField()
    key_id = models.CharField(max_length=16)
    evidence = models.ForeignKey(Evidence, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Public files wait in quarantine (stored encrypted as received, after cheap checks only) until
    # a worker parses them in the sandbox (evidence/intake_files.py): a public request never runs
    # the probe. A file the worker refuses is dropped (its blob deleted) and the row says so.
    state = models.CharField(max_length=10, choices=IntakeFileState.choices, default=IntakeFileState.CHECKED, db_index=True)


class BlobDeletion(models.Model):
    """A stored file (original, preview or intake file) whose row the retention process deleted.

    Written in the purge's transaction, so a file is never forgotten: after the commit the purge
    deletes the file and this row; what fails (storage down) is retried by the next retention run.
    The file is unreadable already: its data key went with the deleted row. Holds no victim data
    (storage keys are random names).
    """

    storage_key = models.CharField(max_length=200, unique=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, default="")


class RemovedFingerprint(models.Model):
    """The ids of fingerprints the retention process deleted, so that every process's in-memory
    match index (takedowns.matching) drops them at its next refresh. Ids only; pruned after
    REMOVED_FINGERPRINT_LOG_DAYS, by which time every index has refreshed or been reloaded."""

    fingerprint_id = models.BigIntegerField()
    removed_at = models.DateTimeField(auto_now_add=True, db_index=True)
