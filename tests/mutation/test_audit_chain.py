"""Details of the audit chain that mutation testing (`make mutate`, docs/testing.md) found no test
pinning; each test here failed a mutant of core/audit.py that every other test let live.

Threat: the chain's hash drifts from its documented form (so a copy verified elsewhere, or by an
auditor's own script, disagrees), an event records the wrong actor or centre, or verification
reports a broken chain with the wrong reason, and nobody notices because the chain still agrees
with itself.
Control: core/audit.py: `_canonical` / `compute_hash` (SHA-256 of sorted, compact, UTF-8 JSON of
the event's fields), `record` (who, role, centre, day-only times for the public side),
`verify_chain` (the first broken event and why).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import audit
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _expected_hash(event: AuditEvent) -> str:
    """The hash as an outside verifier computes it from the row (docs/security.md)."""
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
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_hash_is_the_documented_canonical_form(caseworker):
    with transaction.atomic():
        event = audit.record("test.korean", actor=caseworker, details={"b": "피해자 상담", "a": 1})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.hash == _expected_hash(stored)
    # A key order or spacing of its own would give another hash for the same event.
    assert '"a":1,"b":"피해자 상담"' in audit._canonical(stored).decode("utf-8")


def test_an_event_names_who_acted_their_role_and_centre(caseworker, central):
    with transaction.atomic():
        by_person = audit.record("test.person", actor=caseworker, object_type="x", object_id=7)
        by_system = audit.record("test.system")
        by_name = audit.record("test.named", actor="nightly-job")
        about_case = audit.record("test.case", obj=factories.make_case(caseworker))
    assert (by_person.actor_id, by_person.actor_username, by_person.actor_role) == (
        caseworker.pk,
        caseworker.username,
        caseworker.role,
    )
    assert by_person.centre_id == central.pk
    assert (by_person.object_type, by_person.object_id, by_person.details) == ("x", "7", {})
    assert (by_system.actor_id, by_system.actor_username, by_system.actor_role, by_system.centre_id) == (None, "system", "", None)
    assert (by_name.actor_id, by_name.actor_username) == (None, "nightly-job")
    assert about_case.object_type == "cases.case"
    assert about_case.centre_id == central.pk
    assert by_name.prev_hash == by_system.hash == AuditEvent.objects.get(pk=by_system.pk).hash


def test_the_centre_of_the_object_wins_over_the_actors(caseworker, region):
    other = factories.make_user("supervisor", region)
    case = factories.make_case(caseworker)
    with transaction.atomic():
        event = audit.record("test.cross", actor=other, obj=case)
        named = audit.record("test.given", actor=other, obj=case, centre_id=region.pk, object_id="given")
    assert event.centre_id == case.centre_id != region.pk
    assert event.object_id == str(case.pk)
    assert (named.centre_id, named.object_id) == (region.pk, "given")


def test_the_public_side_records_only_the_day(caseworker):
    with transaction.atomic(), audit.day_only():
        event = audit.record("test.public")
    with transaction.atomic():
        after = audit.record("test.staff")
    local = timezone.localtime(event.created_at)
    assert (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    assert local.date() == timezone.localdate()
    assert timezone.localtime(after.created_at).time() != local.time() or after.created_at.microsecond


def test_the_first_event_links_to_the_genesis():
    with transaction.atomic():
        first = audit.record("test.first")
    if AuditEvent.objects.count() == 1:
        assert first.prev_hash == "0" * 64


def _tamper(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def test_verification_names_the_first_broken_event_and_why(caseworker):
    events = [audit.record_now("test.e", details={"n": i}) for i in range(4)]
    report = audit.verify_chain(batch_size=2)
    assert (report.ok, report.checked, report.broken_at, report.reason) == (True, AuditEvent.objects.count(), None, "")
    assert report.starts_after is None  # nothing purged: the chain starts at the genesis
    _tamper("UPDATE core_auditevent SET details = %s WHERE id = %s", ['{"n": 99}', events[2].id])
    report = audit.verify_chain(batch_size=2)
    assert (report.ok, report.broken_at, report.reason) == (False, events[2].id, "its content does not match its hash")
    assert report.checked == AuditEvent.objects.filter(id__lt=events[2].id).count()
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [events[2].id])
    report = audit.verify_chain(batch_size=2)
    assert (report.ok, report.broken_at, report.reason) == (False, events[3].id, "its link to the previous event does not match")
