"""The audit log's own retention purge, pinned where mutation testing (`make mutate`) found it
loose: core.audit.purge_events.

Threat: the purge of old audit events deletes past a legal hold, past the newest checkpoint old
enough, or records a wrong count or anchor, so the kept chain's first link is vouched for by the
wrong record (or a held case's history is gone).
Control: core.audit.purge_events deletes only up to a signed checkpoint older than `before` and
below `stop_before_id`, through the database's purge function, and records one
"retention.purged" event with the count, the anchor and whether events were held back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from core import audit, audit_signing, dbguard
from core.models import AuditCheckpoint, AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _old_events(monkeypatch, n: int, days: int) -> list[AuditEvent]:
    real = audit.datetime

    class LongAgo(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return real.now(tz) - timedelta(days=days)

    monkeypatch.setattr(audit, "datetime", LongAgo)
    events = [audit.record_now("test.old", details={"n": i}) for i in range(n)]
    monkeypatch.setattr(audit, "datetime", real)
    return events


def _purge(*, before: datetime, stop_before_id: int | None = None) -> int:
    with transaction.atomic():
        dbguard.allow_purge()
        return audit.purge_events(before=before, policy_days=django_settings.RETENTION_AUDIT_DAYS, stop_before_id=stop_before_id)


def _purged_past_retention(monkeypatch, n: int) -> tuple[list[AuditEvent], AuditCheckpoint]:
    """n events older than the retention period, a signed checkpoint of their head, and the purge
    that deletes all n up to it."""
    old = _old_events(monkeypatch, n, django_settings.RETENTION_AUDIT_DAYS + 30)
    anchor = audit_signing.checkpoint()
    assert anchor is not None and anchor.head_id == old[-1].id
    assert _purge(before=datetime.now(UTC) - timedelta(days=django_settings.RETENTION_AUDIT_DAYS)) == n
    return old, anchor


def _rechain_as_owner(prev_hash: str, *, rewrite_id: int | None = None) -> None:
    """What the owner of the tables can do after a purge: lift the triggers and recompute every
    kept event's link and hash from `prev_hash` (changing event `rewrite_id`'s details on the way)."""
    from django.db import connection

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        prev = prev_hash
        for event in AuditEvent.objects.order_by("id"):
            if event.id == rewrite_id:
                event.details = {"n": "rewritten"}
            event.prev_hash = prev
            prev = audit.compute_hash(event)
            cursor.execute(
                "UPDATE core_auditevent SET details = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(event.details), event.prev_hash, prev, event.id],
            )
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def test_purge_refuses_outside_a_transaction():
    with pytest.raises(RuntimeError, match=r"^audit\.purge_events\(\) must be called inside transaction\.atomic\(\)$"):
        audit.purge_events(before=datetime.now(UTC), policy_days=1)


def test_nothing_is_deleted_without_a_checkpoint_or_anything_due(audit_signer, monkeypatch):
    days = django_settings.RETENTION_AUDIT_DAYS + 30
    _old_events(monkeypatch, 3, days)
    before = datetime.now(UTC) - timedelta(days=django_settings.RETENTION_AUDIT_DAYS)
    count = AuditEvent.objects.count()
    assert _purge(before=before) == 0  # no checkpoint yet
    assert AuditEvent.objects.count() == count
    audit_signing.checkpoint()
    assert _purge(before=before - timedelta(days=365)) == 0  # nothing that old
    assert not AuditEvent.objects.filter(action=audit.PURGE_ACTION).exists()


def test_the_purge_stops_at_the_checkpoint_below_a_held_event(audit_signer, monkeypatch):
    days = django_settings.RETENTION_AUDIT_DAYS + 30
    first = _old_events(monkeypatch, 3, days)
    early = audit_signing.checkpoint()
    second = _old_events(monkeypatch, 3, days)
    audit_signing.checkpoint()
    assert early is not None and early.head_id == first[-1].id
    before = datetime.now(UTC) - timedelta(days=django_settings.RETENTION_AUDIT_DAYS)
    purged = _purge(before=before, stop_before_id=second[0].id)
    assert purged == 3
    assert not AuditEvent.objects.filter(id__lte=early.head_id).exists()
    assert AuditEvent.objects.filter(id=second[0].id).exists()
    event = AuditEvent.objects.filter(action=audit.PURGE_ACTION).latest("id")
    assert event.details == {
        "kind": "audit_event",
        "count": purged,
        "policy": "audit_log",
        "policy_days": django_settings.RETENTION_AUDIT_DAYS,
        "anchor_id": early.head_id,
        "anchor_hash": early.head_hash,
        "anchor_checkpoint": early.seq,
        "held_back": True,
    }
    assert (event.actor_username, event.object_type) == ("system", "core.auditevent")
    audit_signing.checkpoint()
    report = audit.verify_chain()
    assert report.ok and report.starts_after == early.head_id


def test_a_purge_of_everything_due_is_not_held_back(audit_signer, monkeypatch):
    _old, anchor = _purged_past_retention(monkeypatch, 4)
    event = AuditEvent.objects.filter(action=audit.PURGE_ACTION).latest("id")
    assert event.details["held_back"] is False and event.details["count"] == 4
    assert event.prev_hash == anchor.head_hash


def _delete_as_owner(up_to_id: int) -> None:
    """What the owner of the tables can do, bypassing the purge function's own checks."""
    from django.db import connection

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM core_auditevent WHERE id <= %s", [up_to_id])
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def test_an_anchor_younger_than_the_policy_is_refused_even_when_older_than_the_minimum(audit_signer, monkeypatch):
    # Older than the database's floor (MIN_AUDIT_DAYS, 365) but not than the policy (3650 here).
    old = _old_events(monkeypatch, 3, 400)
    anchor = audit_signing.checkpoint()
    assert anchor is not None and anchor.head_id == old[-1].id
    _old_events(monkeypatch, 2, 399)
    _delete_as_owner(anchor.head_id)
    report = audit.verify_chain()
    days = django_settings.RETENTION_AUDIT_DAYS
    assert days > 400
    assert (report.ok, report.reason) == (
        False,
        f"the events before it were deleted before the retention period of {days} days had passed",
    )


def test_a_kept_chain_relinked_to_a_made_up_anchor_is_refused(audit_signer, monkeypatch):
    _purged_past_retention(monkeypatch, 4)
    assert audit.verify_chain().ok
    # The owner relinks what is kept to another anchor and recomputes every hash after it.
    _rechain_as_owner("f" * 64)
    report = audit.verify_chain()
    first_kept = AuditEvent.objects.order_by("id").first()
    assert report == audit.ChainReport(
        False,
        0,
        first_kept.id,
        "its link to the previous event does not match, and no signed checkpoint covers the purge",
        signed=1,
    )


def test_the_database_refuses_a_purge_under_the_floor_whatever_the_caller_says(audit_signer, monkeypatch):
    from django.db import DatabaseError

    from core.db_roles import MIN_AUDIT_DAYS

    _old_events(monkeypatch, 3, 100)
    anchor = audit_signing.checkpoint()
    assert anchor is not None
    with pytest.raises(DatabaseError, match=f"kept at least {MIN_AUDIT_DAYS} days"), transaction.atomic():
        dbguard.allow_purge()
        audit.purge_events(before=datetime.now(UTC) - timedelta(days=30), policy_days=30)
    assert AuditEvent.objects.filter(id__lte=anchor.head_id).count() == 3


def test_with_audit_retention_off_an_anchor_must_still_be_older_than_the_floor(audit_signer, monkeypatch, settings):
    from core.db_roles import MIN_AUDIT_DAYS

    settings.RETENTION_AUDIT_DAYS = 0  # keep for ever: a purge anchor then needs the floor's age
    old = _old_events(monkeypatch, 3, 100)
    anchor = audit_signing.checkpoint()
    assert anchor is not None and anchor.head_id == old[-1].id
    _old_events(monkeypatch, 1, 99)
    _delete_as_owner(anchor.head_id)
    report = audit.verify_chain()
    assert (report.ok, report.reason) == (
        False,
        f"the events before it were deleted before the retention period of {MIN_AUDIT_DAYS} days had passed",
    )


def test_cutting_off_the_newest_events_names_the_missing_checkpoint(audit_signer):
    events = [audit.record_now("test.cut", details={"n": i}) for i in range(4)]
    checkpoint = audit_signing.checkpoint()
    assert checkpoint is not None and checkpoint.head_id == events[-1].id
    _delete_after(events[1].id)
    kept = AuditEvent.objects.count()
    report = audit.verify_chain()
    assert report == audit.ChainReport(
        False,
        kept,
        checkpoint.head_id,
        f"the event of signed checkpoint {checkpoint.seq} is missing: events were deleted",
        None,
        1,
    )


def test_after_a_purge_later_checkpoints_are_still_compared(audit_signer, monkeypatch):
    _old, anchor = _purged_past_retention(monkeypatch, 3)
    later = [audit.record_now("test.later", details={"n": i}) for i in range(3)]
    audit_signing.checkpoint()
    # The owner alters an event after the anchor and recomputes every hash from there.
    _rechain_as_owner(AuditEvent.objects.order_by("id").first().prev_hash, rewrite_id=later[1].id)
    report = audit.verify_chain()
    assert not report.ok and "the log was rewritten" in report.reason
    assert (report.starts_after, report.signed) == (anchor.head_id, 2)


def _delete_after(last_kept_id: int) -> None:
    from django.db import connection

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM core_auditevent WHERE id > %s", [last_kept_id])
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")
