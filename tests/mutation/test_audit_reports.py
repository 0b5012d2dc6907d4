"""What the audit chain's check reports when it fails, field by field, pinned where mutation
testing (`make mutate`) found core/audit.py loose: tests asked `not report.ok`, which a report
with ok=None or without its counts also passes.

Threat: an auditor reads a failed check and cannot tell how far it got, where it broke, whether
old events were purged before it or how many signed checkpoints it compared.
Control: core.audit.verify_chain returns a ChainReport with ok=False, the events checked before
the break, the broken event, the reason in words, the purge anchor and the signed count.
"""

from __future__ import annotations

import pytest

from core import audit
from core.audit import ChainReport
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _events(n: int) -> list[AuditEvent]:
    return [audit.record_now("test.event", details={"n": i}) for i in range(n)]


def test_a_changed_event_is_reported_whole(settings) -> None:
    settings.AUDIT_SIGNER_PUBLIC_KEY = ""
    events = _events(4)
    before = AuditEvent.objects.filter(id__lt=events[2].id).count()
    factories.rewrite_audit_event(events[2].id)
    assert audit.verify_chain() == ChainReport(
        ok=False, checked=before, broken_at=events[2].id, reason="its content does not match its hash",
        starts_after=None, signed=None,
    )  # fmt: skip


def test_a_broken_link_is_reported_whole(settings) -> None:
    settings.AUDIT_SIGNER_PUBLIC_KEY = ""
    events = _events(4)
    before = AuditEvent.objects.filter(id__lt=events[1].id).count()
    factories.set_audit_column(events[1].id, "prev_hash", "f" * 64)
    assert audit.verify_chain() == ChainReport(
        ok=False, checked=before, broken_at=events[1].id, reason="its link to the previous event does not match",
        starts_after=None, signed=None,
    )  # fmt: skip


def test_unreadable_signed_checkpoints_are_reported_before_any_event(settings, tmp_path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from core.signer import public_key_b64

    _events(2)
    settings.AUDIT_SIGNER_PUBLIC_KEY = public_key_b64(Ed25519PrivateKey.generate())
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "missing.jsonl")
    report = audit.verify_chain()
    assert report == ChainReport(
        ok=False, checked=0, broken_at=None,
        reason="the signed checkpoints could not be read (the checkpoint file could not be read: FileNotFoundError)",
    )  # fmt: skip
    (tmp_path / "bad.jsonl").write_text('{"record": {"seq": 1}, "sig": "AAAA"}\n')
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "bad.jsonl")
    assert audit.verify_chain() == ChainReport(
        ok=False, checked=0, broken_at=None, reason="a checkpoint's signature does not verify with the signer's public key"
    )


def test_an_event_is_recorded_only_inside_a_transaction() -> None:
    with pytest.raises(RuntimeError) as refused:
        audit.record("test.outside", actor=None)
    assert str(refused.value) == "audit.record() must be called inside transaction.atomic()"
