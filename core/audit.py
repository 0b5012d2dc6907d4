"""The one audit writer. Every service calls `record()` inside its own transaction.

Events form a hash chain: each stores the SHA-256 of the previous event's hash and its own
canonical content. Writers serialise on a database lock so the chain never forks; the
id order is the chain order.

The chain alone does not stop someone with the database's rights from deleting an event and
re-computing every later hash. Signed checkpoints do (core/audit_signing.py, core/signer.py): a
separate signer process signs the head every few minutes and keeps every signed checkpoint in its
own append-only sink; verify_chain compares the chain with each of them.

The retention process may delete the oldest events (purge_events), only up to a checkpoint and
only through the database's own purge function. The chain then starts at an anchor: the hash of
the last deleted event, which the first kept event links to. verify_chain accepts an anchor only
when a signed checkpoint has exactly that head and is older than the retention period; the purge's
own audit event ("retention.purged", kind "audit_event") records it for people, not for trust.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from core.models import AuditEvent

GENESIS = "0" * 64
# The audit action of every retention purge; purges of audit events carry the chain's new anchor.
PURGE_ACTION = "retention.purged"
AUDIT_KIND = "audit_event"
# Arbitrary constant naming the PostgreSQL advisory lock that serialises chain appends.
_CHAIN_LOCK_ID = 0x5A5A_A0D1


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "actor_role": event.actor_role,
        "centre_id": event.centre_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


# Set while the public side acts for an anonymous reporter (cases/intake.py): every event recorded
# then, by the intake or by the hooks it fires, carries only the day (its start in the centre's
# time zone), never the time of day (DESIGN.md). The chain still orders events by id.
_day_only: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_day_only", default=False)


@contextlib.contextmanager
def day_only() -> Iterator[None]:
    token = _day_only.set(True)
    try:
        yield
    finally:
        _day_only.reset(token)


def day_start() -> datetime:
    """The start of today in the centre's time zone (settings.TIME_ZONE), as an aware datetime."""
    from django.utils import timezone

    now = timezone.localtime()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
    # SQLite (the embedded demo) serialises writers on its own database lock.


def record(
    action: str,
    *,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    centre_id: int | None = None,
    details: dict[str, Any] | None = None,
    _anchor_hash: str = "",
) -> AuditEvent:
    """Append one event. Must run inside the caller's transaction so both commit or neither.

    `_anchor_hash` is for purge_events only: the link when the purge deleted every event."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside transaction.atomic()")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        if centre_id is None:
            centre_id = getattr(obj, "centre_id", None)
    actor_is_user = actor is not None and getattr(actor, "is_authenticated", False)
    if centre_id is None and actor_is_user:
        centre_id = getattr(actor, "centre_id", None)
    _lock_chain()
    # With every event purged, the chain goes on from the anchor (the last purged event's hash).
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or _anchor_hash
    event = AuditEvent(
        created_at=day_start().astimezone(UTC) if _day_only.get() else datetime.now(UTC),
        actor_id=actor.pk if actor_is_user else None,
        actor_username=actor.get_username() if actor_is_user else (str(actor) if actor else "system"),
        actor_role=getattr(actor, "role", "") if actor_is_user else "",
        centre_id=centre_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
        prev_hash=last or GENESIS,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    return event


def record_now(action: str, **kwargs: Any) -> AuditEvent:
    """For events that are their own transaction (sign-ins, views of sensitive pages)."""
    with transaction.atomic():
        return record(action, **kwargs)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    # When the oldest events were purged by retention: the id of the last purged event, whose
    # hash the kept chain starts from. None when the chain starts at the genesis.
    starts_after: int | None = None
    # How many signed checkpoints the chain was compared with; None when no signer's public key
    # is configured (then only the hashes themselves were checked).
    signed: int | None = None


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order; report the first event whose link, content or signed
    checkpoint is wrong.

    The signed checkpoints are read first (from the signer, or from AUDIT_CHECKPOINT_FILE); then the walk reads one snapshot (REPEATABLE READ on PostgreSQL when not already in a
    transaction), so a retention purge committing during the walk cannot look like a broken link.
    """
    from core import audit_signing

    try:
        checkpoints = audit_signing.signed_checkpoints()
    except audit_signing.SignerUnavailable as exc:
        return ChainReport(False, 0, None, f"the signed checkpoints could not be read ({exc})")
    except audit_signing.BadCheckpoints as exc:
        return ChainReport(False, 0, None, str(exc))
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return _walk(batch_size, checkpoints)
    return _walk(batch_size, checkpoints)


def _anchor(first: AuditEvent, checkpoints: list[Any] | None) -> tuple[Any, str]:
    """The signed checkpoint that vouches for a purged prefix, or why there is none."""
    from datetime import timedelta

    from django.conf import settings

    from core.db_roles import MIN_AUDIT_DAYS

    signed = [c for c in checkpoints or [] if c.head_hash == first.prev_hash and c.head_id < first.id]
    if not signed:
        return None, "its link to the previous event does not match, and no signed checkpoint covers the purge"
    anchor = signed[0]
    days = int(getattr(settings, "RETENTION_AUDIT_DAYS", 0) or 0) or MIN_AUDIT_DAYS
    if anchor.head_at >= datetime.now(UTC) - timedelta(days=days):
        return None, f"the events before it were deleted before the retention period of {days} days had passed"
    return anchor, ""


def _walk(batch_size: int, checkpoints: list[Any] | None) -> ChainReport:
    signed = None if checkpoints is None else len(checkpoints)
    expected_prev = GENESIS
    starts_after = None
    position = 0  # events since the genesis, purged ones included: the checkpoints' "count"
    pending = sorted(checkpoints or [], key=lambda c: c.head_id)
    first = AuditEvent.objects.order_by("id").first()
    if first is not None and first.prev_hash != GENESIS:
        anchor, why = _anchor(first, checkpoints)
        if anchor is None:
            return ChainReport(False, 0, first.id, why, signed=signed)
        starts_after, expected_prev, position = anchor.head_id, first.prev_hash, anchor.count
        pending = [c for c in pending if c.head_id > anchor.head_id]

    def missing(checkpoint: Any, checked: int) -> ChainReport:
        return ChainReport(
            False, checked, checkpoint.head_id,
            f"the event of signed checkpoint {checkpoint.seq} is missing: events were deleted",
            starts_after, signed,
        )  # fmt: skip

    checked = 0
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            if pending:  # the newest events, up to a signed head, are gone
                return missing(pending[0], checked)
            return ChainReport(ok=True, checked=checked, starts_after=starts_after, signed=signed)
        for event in batch:
            if pending and pending[0].head_id < event.id:
                return missing(pending[0], checked)
            if event.prev_hash != expected_prev:
                return ChainReport(
                    False, checked, event.id, "its link to the previous event does not match", starts_after, signed
                )
            if compute_hash(event) != event.hash:
                return ChainReport(False, checked, event.id, "its content does not match its hash", starts_after, signed)
            position += 1
            if pending and pending[0].head_id == event.id:
                if pending[0].head_hash != event.hash or pending[0].count != position:
                    return ChainReport(
                        False, checked, event.id,
                        f"it does not match signed checkpoint {pending[0].seq}: the log was rewritten",
                        starts_after, signed,
                    )  # fmt: skip
                pending.pop(0)
            expected_prev = event.hash
            checked += 1
            last_id = event.id


def purge_events(*, before: datetime, policy_days: int, stop_before_id: int | None = None) -> int:
    """Deletes the oldest events, up to the newest signed checkpoint older than `before`, and
    records the new anchor.

    Only a prefix of the chain is ever deleted, ending at a checkpoint, so what is kept stays one
    unbroken chain whose first link a signed record vouches for. `stop_before_id` keeps that event
    and everything after it (the retention process passes the first event about a case under legal
    hold). Without a checkpoint old enough nothing is deleted. On PostgreSQL the deletion is the
    database's purge function (core/db_roles.py), which checks the rules again with its own clock:
    the application's role may not delete audit events itself. Call inside the retention
    transaction after core.dbguard.allow_purge(). Returns how many events were deleted; the purge's
    own event records the count and the anchor.
    """
    from core import audit_signing

    if not connection.in_atomic_block:
        raise RuntimeError("audit.purge_events() must be called inside transaction.atomic()")
    _lock_chain()  # no event may be appended between choosing the anchor and deleting
    newest_due = AuditEvent.objects.filter(created_at__lt=before).order_by("-id").values_list("id", flat=True).first()
    anchor = audit_signing.purge_anchor(before=before, stop_before_id=stop_before_id)
    if anchor is None or newest_due is None:
        return 0
    anchor_id, anchor_hash = anchor.head_id, anchor.head_hash
    held_back = newest_due != anchor_id
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT vs_purge_audit_events(%s, %s)", [anchor_id, policy_days])
            count = int(cursor.fetchone()[0])
    else:  # the embedded demo's SQLite has neither roles nor functions
        count, _per_model = AuditEvent.objects.filter(id__lte=anchor_id).delete()
    record(
        PURGE_ACTION,
        actor=None,
        _anchor_hash=anchor_hash,
        object_type="core.auditevent",
        details={
            "kind": AUDIT_KIND, "count": count, "policy": "audit_log", "policy_days": policy_days,
            "anchor_id": anchor_id, "anchor_hash": anchor_hash, "anchor_checkpoint": anchor.seq, "held_back": held_back,
        },
    )  # fmt: skip
    return count
