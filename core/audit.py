"""The one audit writer. Every service calls `record()` inside its own transaction.

Events form a hash chain: each stores the SHA-256 of the previous event's hash and its own
canonical content. Writers serialise on a database lock so the chain never forks; the
id order is the chain order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from core.models import AuditEvent

GENESIS = "0" * 64
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
) -> AuditEvent:
    """Append one event. Must run inside the caller's transaction so both commit or neither."""
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
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        created_at=datetime.now(UTC),
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


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order; report the first event whose link or content is wrong."""
    expected_prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            return ChainReport(ok=True, checked=checked)
        for event in batch:
            if event.prev_hash != expected_prev:
                return ChainReport(False, checked, event.id, "its link to the previous event does not match")
            if compute_hash(event) != event.hash:
                return ChainReport(False, checked, event.id, "its content does not match its hash")
            expected_prev = event.hash
            checked += 1
            last_id = event.id
