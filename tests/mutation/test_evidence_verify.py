"""The scheduled check of stored originals, pinned where mutation testing (`make mutate`) found
evidence.services.evidence_verify loose: the tests went through the command and only asked
whether a failure was found, not what the custody log and the audit chain then say.

Threat: a changed or missing original passes the check, or the check's record (who ran it, what
was wrong) is empty, so a court cannot be told when the file was last known intact.
Control: evidence_verify decrypts and re-hashes the original and records the outcome in custody
(with the problem in words) and in the audit chain of the case's centre; only an intact file
moves last_verified_at.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from evidence.models import CustodyEvent, Evidence
from evidence.services import evidence_verify
from tests import factories
from tests.evidence.conftest import clean_evidence_root  # noqa: F401 - the run's own empty locker
from tests.evidence.helpers import add_image

pytestmark = pytest.mark.django_db(transaction=True)


def _record(evidence: Evidence) -> tuple[CustodyEvent, AuditEvent]:
    custody = CustodyEvent.objects.filter(evidence=evidence, action__startswith="verify").latest("id")
    audit = AuditEvent.objects.filter(action__startswith="evidence.verif", object_id=str(evidence.pk)).latest("id")
    return custody, audit


def test_an_intact_original_is_recorded_as_checked_by_whom(caseworker, supervisor, tmp_path) -> None:
    evidence = add_image(factories.make_case(caseworker), caseworker, tmp_path, seed=81)
    assert evidence_verify(evidence=evidence, acting_user=supervisor) is True
    custody, audit = _record(evidence)
    assert (custody.action, custody.actor_id, custody.reason) == ("verify", supervisor.pk, "")
    assert (audit.action, audit.actor_id, audit.centre_id) == ("evidence.verified", supervisor.pk, evidence.case.centre_id)
    assert audit.details == {"ok": True, "problem": ""}
    checked = Evidence.objects.get(pk=evidence.pk).last_verified_at
    assert checked is not None and timezone.now() - checked < timedelta(minutes=1)


@pytest.mark.parametrize("damage", ["hash", "missing", "flipped"])
def test_a_damaged_original_fails_with_the_problem_in_words(caseworker, tmp_path, settings, damage) -> None:
    from pathlib import Path

    evidence = add_image(factories.make_case(caseworker), caseworker, tmp_path, seed=82)
    blob = Path(settings.EVIDENCE_ROOT) / evidence.storage_key
    if damage == "hash":  # the row says another SHA-256 than the stored bytes have
        evidence.sha256 = "0" * 64
        expected = "The stored file does not match its SHA-256."
    elif damage == "missing":
        blob.unlink()
        expected = "The stored file is missing."
    else:  # a flipped bit in the encrypted file: decryption itself refuses it
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01
        blob.write_bytes(bytes(data))
        expected = None
    assert evidence_verify(evidence=evidence) is False
    custody, audit = _record(evidence)
    assert custody.action == "verify_failed" and audit.action == "evidence.verify_failed"
    assert custody.reason and audit.details == {"ok": False, "problem": custody.reason}
    if expected:
        assert custody.reason == expected
    else:
        assert custody.reason not in ("The stored file does not match its SHA-256.", "The stored file is missing.")
    assert audit.centre_id == evidence.case.centre_id
    assert Evidence.objects.get(pk=evidence.pk).last_verified_at is None
