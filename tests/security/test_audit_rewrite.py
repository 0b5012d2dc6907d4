"""Threat: someone with the database's rights quietly rewrites the audit log.

With the application's (or the owner's) database rights an attacker could switch the append-only
triggers off, delete, insert, re-order or alter events and re-compute every later hash, cut off the
newest events, or delete the oldest and append a "retention purge" event vouching for the gap; the
hash chain alone then still verified.

Control: signed checkpoints of the chain's head (core/audit_signing.py) made by a separate signer
process (core/signer.py, started here as a real process) whose Ed25519 key the application never
holds; the signer appends each checkpoint to its own append-only sink, and verification
(core.audit.verify_chain, `verify_audit_chain`) trusts only those records, checked with the public
key. Each rewrite below, done after a checkpoint, is found; a purge anchor counts only when a signed
checkpoint older than the retention period has exactly that head.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from core import audit, audit_signing, health
from core.models import AuditCheckpoint, AuditEvent, SystemState
from core.signer import canonical, line_digest
from core.tasks import audit_checkpoint_task

# The signer's sink must match the database, which these tests commit to (and flush after).
pytestmark = pytest.mark.django_db(transaction=True)


def _events(n: int, label: str = "e") -> list[AuditEvent]:
    return [audit.record_now("test.event", details={"n": f"{label}{i}"}) for i in range(n)]


@contextmanager
def _as_owner() -> Iterator[object]:
    """What the owner of the tables can do: switch the append-only triggers off for a while."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        yield cursor
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def _rechain() -> None:
    """Re-computes every link and hash in id order, as a careful attacker would after an edit."""
    with _as_owner() as cursor:
        prev = audit.GENESIS
        first = AuditEvent.objects.order_by("id").first()
        if first is not None and first.prev_hash != audit.GENESIS:
            prev = first.prev_hash
        for event in AuditEvent.objects.order_by("id"):
            event.prev_hash = prev
            new_hash = audit.compute_hash(event)
            cursor.execute("UPDATE core_auditevent SET prev_hash = %s, hash = %s WHERE id = %s", [prev, new_hash, event.id])
            prev = new_hash


def _chain_alone_is_whole() -> bool:
    """What the old check saw: links and hashes only."""
    events = list(AuditEvent.objects.order_by("id"))
    return all(audit.compute_hash(e) == e.hash for e in events) and all(
        later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events)
    )


def _assert_detected(expected_reason: str) -> None:
    report = audit.verify_chain()
    assert not report.ok, "the rewritten log still verifies"
    assert expected_reason in report.reason
    with pytest.raises(CommandError, match=r"broken|could not be verified"):
        call_command("verify_audit_chain")


def test_a_whole_log_with_checkpoints_verifies_against_every_signed_checkpoint(audit_signer, capsys) -> None:
    _events(3)
    first = audit_signing.checkpoint()
    _events(2)
    second = audit_signing.checkpoint()
    assert first and second and second.seq == first.seq + 1 and second.count == first.count + 2
    report = audit.verify_chain()
    assert report.ok and report.signed == 2 and report.checked == AuditEvent.objects.count()
    call_command("verify_audit_chain")
    assert "all 2 signed checkpoints" in capsys.readouterr().out
    # The signer keeps its own append-only record: one signed line per checkpoint.
    assert len(audit_signer.sink.read_text().splitlines()) == 2


def test_deleting_an_event_and_rechaining_the_rest_is_found(audit_signer) -> None:
    events = _events(6)
    audit_signing.checkpoint()
    with _as_owner() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [events[2].id])
    _rechain()
    assert _chain_alone_is_whole()
    _assert_detected("does not match signed checkpoint")


def test_inserting_an_event_and_rechaining_is_found(audit_signer) -> None:
    _events(2)
    # A gap in the ids (a rolled-back transaction) where a forged event can be slipped in.
    with pytest.raises(RuntimeError), transaction.atomic():
        gap = audit.record("test.event", details={"n": "rolled back"})
        raise RuntimeError
    _events(3)
    audit_signing.checkpoint()
    forged = AuditEvent(id=gap.id, created_at=gap.created_at, action="test.event", details={"n": "forged"}, prev_hash="")
    forged.hash = "f" * 64
    with _as_owner():
        forged.save(force_insert=True)
    _rechain()
    assert _chain_alone_is_whole()
    _assert_detected("does not match signed checkpoint")


def test_reordering_events_and_rechaining_is_found(audit_signer) -> None:
    events = _events(5)
    audit_signing.checkpoint()
    a, b = events[1], events[3]
    with _as_owner() as cursor:
        for target, source in ((a, b), (b, a)):
            cursor.execute(
                "UPDATE core_auditevent SET created_at = %s, details = %s WHERE id = %s",
                [source.created_at, json.dumps(source.details), target.id],
            )
    _rechain()
    assert _chain_alone_is_whole()
    _assert_detected("does not match signed checkpoint")


def test_altering_an_event_and_rechaining_is_found(audit_signer) -> None:
    events = _events(4)
    audit_signing.checkpoint()
    _events(2, "after")
    with _as_owner() as cursor:
        cursor.execute("UPDATE core_auditevent SET actor_username = 'someone-else' WHERE id = %s", [events[1].id])
    _rechain()
    assert _chain_alone_is_whole()
    _assert_detected("does not match signed checkpoint")


def test_cutting_off_the_newest_events_is_found(audit_signer) -> None:
    events = _events(5)
    audit_signing.checkpoint()
    with _as_owner() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id >= %s", [events[2].id])
    assert _chain_alone_is_whole()
    _assert_detected("events were deleted")


def test_a_forged_purge_anchor_is_found(audit_signer) -> None:
    events = _events(6)
    audit_signing.checkpoint()
    # Delete the oldest three and append a "retention purge" vouching for the gap, as the old
    # verifier accepted.
    anchor = events[2]
    with _as_owner() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id <= %s", [anchor.id])
    with transaction.atomic():
        audit.record(
            audit.PURGE_ACTION, object_type="core.auditevent",
            details={"kind": audit.AUDIT_KIND, "count": 3, "anchor_id": anchor.id, "anchor_hash": anchor.hash},
        )  # fmt: skip
    _assert_detected("no signed checkpoint covers the purge")


def test_a_purge_up_to_a_real_checkpoint_before_the_retention_period_is_found(audit_signer) -> None:
    _events(3)
    early = audit_signing.checkpoint()
    _events(3, "later")
    audit_signing.checkpoint()
    assert early is not None
    # The owner deletes up to a genuine checkpoint: the link is vouched for, but far too early.
    with _as_owner() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id <= %s", [early.head_id])
    _assert_detected("before the retention period")


def test_a_checkpoint_forged_with_another_key_is_refused(audit_signer) -> None:
    _events(3)
    audit_signing.checkpoint()
    # Someone who can append to the sink but has not the signer's key.
    lines = [json.loads(line) for line in audit_signer.sink.read_text().splitlines()]
    record = {**lines[-1]["record"], "seq": 2, "prev": line_digest(lines[-1]), "head_id": 10**9, "count": 10**9}
    sig = base64.b64encode(Ed25519PrivateKey.generate().sign(canonical(record))).decode()
    with audit_signer.sink.open("a") as sink:
        sink.write(json.dumps({"record": record, "sig": sig}) + "\n")
    _assert_detected("signature does not verify")


def test_the_application_holds_only_the_public_key(audit_signer) -> None:
    private = audit_signer.key_file.read_bytes()
    assert b"PRIVATE KEY" in private
    names = [name for name in dir(django_settings) if name.isupper()]
    values = " ".join(str(getattr(django_settings, name)) for name in names)
    assert str(audit_signer.key_file) not in values and private.decode() not in values
    assert not any("AUDIT_SIGNER_KEY" in name for name in names + list(os.environ))
    assert str(audit_signer.key_file) not in " ".join(os.environ.values())
    # What the application holds cannot sign: it is a public key.
    assert audit_signing.public_key() is not None and not hasattr(audit_signing.public_key(), "sign")


def test_the_signer_refuses_a_head_that_does_not_extend_its_last(audit_signer) -> None:
    _events(4)
    audit_signing.checkpoint()
    head = audit_signing.current_head()
    assert head is not None
    older = {**head, "head_id": head["head_id"] - 1, "head_hash": "a" * 64, "count": head["count"] - 1}
    with pytest.raises(audit_signing.SignerUnavailable, match="409"):
        audit_signing._request("POST", "/sign", older)


def test_with_the_signer_down_events_are_kept_and_the_checkpoint_comes_later(audit_signer) -> None:
    audit_signer.stop()
    health.clear_cache()
    event = audit.record_now("test.event", details={"n": "while down"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    state = audit_checkpoint_task()
    assert state["ok"] is False and not AuditCheckpoint.objects.exists()
    assert SystemState.objects.get(key="audit_checkpoint").value["ok"] is False
    _ok, body = health.readiness(strict=True)
    assert body["background"]["signer"] is False
    report = audit.verify_chain()
    assert not report.ok and "could not be read" in report.reason

    audit_signer.start()
    health.clear_cache()
    assert audit_checkpoint_task()["ok"] is True
    assert AuditCheckpoint.objects.get().head_id == event.id
    assert health.readiness(strict=True)[1]["background"]["signer"] is True
    assert audit.verify_chain().ok


def test_a_retention_purge_up_to_an_old_checkpoint_still_verifies(audit_signer, monkeypatch) -> None:
    from cases.retention import retention_run

    real = audit.datetime

    class LongAgo(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return real.now(tz) - timedelta(days=django_settings.RETENTION_AUDIT_DAYS + 30)

    monkeypatch.setattr(audit, "datetime", LongAgo)
    old = _events(4, "old")
    monkeypatch.setattr(audit, "datetime", real)
    anchor = audit_signing.checkpoint()
    assert anchor is not None and anchor.head_id == old[-1].id
    _events(2, "recent")
    outcome = next(o for o in retention_run(apply=True) if o.policy == "audit_log")
    assert outcome.purged == 4
    assert not AuditEvent.objects.filter(id__lte=anchor.head_id).exists()
    audit_signing.checkpoint()
    report = audit.verify_chain()
    assert report.ok and report.starts_after == anchor.head_id and report.signed == 2
