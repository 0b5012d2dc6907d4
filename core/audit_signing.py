"""Signed checkpoints of the audit chain: the application's side of the audit signer (core/signer.py).

The hash chain alone proves nothing to someone who can write to the database: delete an event,
re-compute every later hash, and the chain is whole again. So every few minutes (beat's
`audit-checkpoint`, and after each audit purge) the head of the chain (its event id, hash, the
count of events since the genesis and the head's time) is sent to the signer, a separate process
whose Ed25519 key web and worker processes never hold. The signer appends the signed record to
its own append-only sink and answers with it; a copy is kept in AuditCheckpoint for convenience.

Verification (core.audit.verify_chain) trusts only the signer's sink, read from the signer or from
AUDIT_CHECKPOINT_FILE (a read-only copy of the sink), each record checked with the public key
AUDIT_SIGNER_PUBLIC_KEY: a history re-written below a checkpoint no longer gives that checkpoint's
hash, and the signer will not sign a replacement for an older head.

The signer is reached with the standard library's http.client, not core/http.py: it is part of
the installation named by the operator's settings (like PostgreSQL and Redis), on loopback or a
private network that the outbound client rightly refuses; no address here comes from a user.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction

from core.models import AuditCheckpoint, AuditEvent
from core.signer import canonical, line_digest

logger = logging.getLogger(__name__)
_MAX_ANSWER_BYTES = 1024 * 1024 * 1024


class SignerUnavailable(Exception):
    """The signer could not be reached or did not answer as expected; retried later."""


class BadCheckpoints(Exception):
    """The signed records themselves fail: a bad signature, a missing or re-ordered record."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_id: int
    head_hash: str
    count: int
    head_at: datetime
    signed_at: datetime


def configured() -> bool:
    return bool(settings.AUDIT_SIGNER_URL)


def _request(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    url = urlsplit(str(settings.AUDIT_SIGNER_URL))
    if url.scheme != "http" or not url.hostname:
        raise SignerUnavailable("AUDIT_SIGNER_URL must be http://host:port")
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=settings.AUDIT_SIGNER_TIMEOUT_S)
    try:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, url.path.rstrip("/") + path, body=data, headers=headers)
        response = conn.getresponse()
        # The whole record list: about 30 MB a year at one checkpoint every 5 minutes.
        payload = response.read(_MAX_ANSWER_BYTES)
        if response.status != 200:
            raise SignerUnavailable(f"the signer answered {response.status}")
        answer = json.loads(payload)
        if not isinstance(answer, dict):
            raise SignerUnavailable("the signer's answer is not a JSON object")
        return answer
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise SignerUnavailable(f"the signer could not be reached: {exc.__class__.__name__}") from exc
    finally:
        conn.close()


def signer_reachable() -> bool:
    try:
        return _request("GET", "/healthz").get("status") == "ok"
    except SignerUnavailable:
        return False


def public_key() -> Ed25519PublicKey | None:
    raw = str(settings.AUDIT_SIGNER_PUBLIC_KEY or "").strip()
    if not raw:
        return None
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw))


def verify_line(line: Any, key: Ed25519PublicKey) -> Checkpoint:
    """One sink line checked with the public key; BadCheckpoints when it does not verify."""
    try:
        record, sig = line["record"], base64.b64decode(line["sig"])
        key.verify(sig, canonical(record))
        return Checkpoint(
            seq=int(record["seq"]),
            head_id=int(record["head_id"]),
            head_hash=str(record["head_hash"]),
            count=int(record["count"]),
            head_at=datetime.fromisoformat(record["head_at"]),
            signed_at=datetime.fromisoformat(record["signed_at"]),
        )
    except InvalidSignature:
        raise BadCheckpoints("a checkpoint's signature does not verify with the signer's public key") from None
    except (KeyError, TypeError, ValueError):
        raise BadCheckpoints("a checkpoint record is malformed") from None


def _sink_lines() -> list[Any]:
    path = str(getattr(settings, "AUDIT_CHECKPOINT_FILE", "") or "")
    if path:
        try:
            with Path(path).open(encoding="ascii") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as exc:
            raise SignerUnavailable(f"the checkpoint file could not be read: {exc.__class__.__name__}") from exc
    lines = _request("GET", "/checkpoints").get("checkpoints")
    if not isinstance(lines, list):
        raise SignerUnavailable("the signer's checkpoint list is malformed")
    return lines


def signed_checkpoints() -> list[Checkpoint] | None:
    """Every signed checkpoint, oldest first, each verified; None when no public key is set (then
    nothing vouches for the chain beyond its own hashes). Raises SignerUnavailable or BadCheckpoints."""
    key = public_key()
    if key is None:
        return None
    checkpoints: list[Checkpoint] = []
    previous: Any = None
    for line in _sink_lines():
        checkpoint = verify_line(line, key)
        expected_prev = line_digest(previous) if previous is not None else ""
        if checkpoint.seq != len(checkpoints) + 1 or line["record"].get("prev") != expected_prev:
            raise BadCheckpoints(f"signed checkpoints are missing or out of order before number {checkpoint.seq}")
        if checkpoints and (checkpoint.head_id <= checkpoints[-1].head_id or checkpoint.count <= checkpoints[-1].count):
            raise BadCheckpoints(f"signed checkpoint {checkpoint.seq} does not extend the one before it")
        checkpoints.append(checkpoint)
        previous = line
    return checkpoints


def current_head() -> dict[str, Any] | None:
    """The chain's head and its count of events since the genesis (purged ones included): the
    newest stored checkpoint's count plus the events after it."""
    head = AuditEvent.objects.order_by("-id").values("id", "hash", "created_at").first()
    if head is None:
        return None
    last = AuditCheckpoint.objects.filter(head_id__lte=head["id"]).order_by("-seq").first()
    if last is not None:
        count = last.count + AuditEvent.objects.filter(id__gt=last.head_id, id__lte=head["id"]).count()
    else:
        count = AuditEvent.objects.filter(id__lte=head["id"]).count()
    return {"head_id": head["id"], "head_hash": head["hash"], "count": count, "head_at": head["created_at"].isoformat()}


def checkpoint() -> AuditCheckpoint | None:
    """Has the signer sign the current head and keeps the copy. Must run outside a transaction.

    Returns the stored checkpoint (the existing one when the head has not moved), None when no
    signer is configured or the chain is empty. Raises SignerUnavailable (the caller retries)."""
    if not configured():
        return None
    if connection.in_atomic_block:
        # Same rule as every outbound call: a slow signer must never hold a database transaction.
        raise RuntimeError("audit_signing.checkpoint() must not run inside a database transaction")
    with transaction.atomic():
        head = current_head()
    if head is None:
        return None
    last = AuditCheckpoint.objects.order_by("-seq").first()
    if last is not None and last.head_id == head["head_id"] and last.head_hash == head["head_hash"]:
        return last
    line = _request("POST", "/sign", head)
    key = public_key()
    record = line.get("record") if isinstance(line, dict) else None
    if not isinstance(record, dict) or any(record.get(k) != head[k] for k in ("head_id", "head_hash", "count")):
        raise SignerUnavailable("the signer answered for another head")
    if key is not None:
        try:
            verify_line(line, key)
        except BadCheckpoints as exc:
            raise SignerUnavailable(f"the signer's answer does not verify: {exc}") from exc
    stored, _created = AuditCheckpoint.objects.get_or_create(
        seq=int(record["seq"]),
        defaults={
            "head_id": record["head_id"],
            "head_hash": record["head_hash"],
            "count": record["count"],
            "head_at": datetime.fromisoformat(record["head_at"]),
            "signed_at": datetime.fromisoformat(record["signed_at"]),
            "line": line,
        },
    )
    return stored


def purge_anchor(*, before: datetime, stop_before_id: int | None) -> AuditCheckpoint | None:
    """The newest stored checkpoint a purge may delete up to: its head older than `before` and
    below the first held event. Purging only up to a checkpoint keeps every anchor vouched for by
    a signed record; the events after it wait for the next purge (minutes, at most a day)."""
    from django.db.models import Exists, OuterRef

    kept = AuditEvent.objects.filter(id=OuterRef("head_id"), hash=OuterRef("head_hash"))
    candidates = AuditCheckpoint.objects.filter(head_at__lt=before).filter(Exists(kept))
    if stop_before_id is not None:
        candidates = candidates.filter(head_id__lt=stop_before_id)
    return candidates.order_by("-head_id").first()
