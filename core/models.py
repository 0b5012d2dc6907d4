from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.roles import Role


class Centre(models.Model):
    """A support centre: the central one and regional ones. Every staff member belongs to one."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    is_central = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_central", "name"]
        constraints = [
            # Exactly one central centre at most.
            models.UniqueConstraint(fields=["is_central"], condition=models.Q(is_central=True), name="one_central_centre"),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CASEWORKER)
    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, null=True, blank=True, related_name="staff")
    is_service_account = models.BooleanField(
        default=False, help_text=_("Machine client: authenticates with an API token only, never a password.")
    )
    # Separation of duties: an account with a case role stays inactive until a supervisor of its
    # centre approves it; the admin who invited it cannot switch it on alone.
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    def __str__(self) -> str:
        return self.username


class ApiToken(models.Model):
    """A machine client's token. Only a SHA-256 of the key is stored; the key is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text=_("First characters of the key, to recognise it."))
    name = models.CharField(max_length=100, blank=True, default="", help_text=_("What the token is for."))
    scopes = models.JSONField(default=list, blank=True, help_text=_("What the token may do, within its account's role."))
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class Invitation(models.Model):
    """A single-use, short-lived link by which a new person sets their own password and enrols
    their own authenticator. Only a SHA-256 of the key is stored; the key travels only in the
    e-mail, so the admin who invited never holds a usable credential for the account."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation for {self.user}"


class LoginThrottle(models.Model):
    """Failed sign-in attempts per username (passwords and second-factor codes alike).

    Keyed by the name typed, whether or not such a user exists, so the answer never reveals
    which accounts exist. A lock always expires: an attacker can slow a user, never shut them out.
    """

    username = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    lockouts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class AuditEvent(models.Model):
    """Append-only, hash-chained record of who did what.

    The database rejects UPDATE, DELETE and TRUNCATE on this table (see migration 0002).
    Actor fields are copied, not foreign keys, so that the record outlives accounts and no
    cascading change can ever touch it. `details` never holds victim content.
    """

    created_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    centre_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=60, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"


class AuditCheckpoint(models.Model):
    """A signed checkpoint of the audit chain's head, as the audit signer returned it (core.signer).

    A convenience copy: the retention purge picks its anchor here and the audit page shows the last
    one. Verification never trusts these rows; it reads the signer's own sink and checks each
    signature with the signer's public key (core.audit_signing). Append-only like the audit log.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    head_id = models.BigIntegerField(db_index=True)
    head_hash = models.CharField(max_length=64)
    count = models.PositiveBigIntegerField()
    head_at = models.DateTimeField()
    signed_at = models.DateTimeField()
    line = models.JSONField()  # the signed record and its signature, exactly as the signer wrote them

    class Meta:
        ordering = ["-seq"]


class SystemState(models.Model):
    """Small key/value facts the system records about itself (last beat, last chain check)."""

    key = models.CharField(max_length=80, primary_key=True)
    value = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)


class TaskFailure(models.Model):
    """A Celery task that failed for good (retries exhausted or none), for the failed-work page.

    Recorded by core.taskmonitor from Celery's task_failure signal. Holds only what is needed to
    recognise and re-send the task: its name, its id and its arguments when they are plain ids
    (numbers); anything else is left out, and such a task cannot be re-sent from the page. The
    message is shortened and passed through the log redaction. Repeats of the same failure (same
    task and arguments, not yet retried) are counted on one row.
    """

    task_name = models.CharField(max_length=200, db_index=True)
    task_id = models.CharField(max_length=64)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    retryable = models.BooleanField(default=True, help_text=_("False when arguments other than ids were left out."))
    exception = models.CharField(max_length=200)
    message = models.CharField(max_length=500, blank=True, default="")
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField(db_index=True)
    occurrences = models.PositiveIntegerField(default=1)
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    retry_task_id = models.CharField(max_length=64, blank=True, default="")
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-last_failed_at", "-id"]
        indexes = [
            # The page and the metric ask for the open ones (neither retried nor dismissed).
            models.Index(
                fields=["-last_failed_at"],
                name="taskfailure_open",
                condition=models.Q(retried_at__isnull=True, dismissed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"

    @property
    def is_open(self) -> bool:
        return self.retried_at is None and self.dismissed_at is None
