"""The application's side of the audit signer, pinned where mutation testing (`make mutate`)
found it loose: core.audit_signing's request to the signer and its reading of the signed records.

Threat: the verification of the audit chain trusts an answer it should not (a signer address that
is not the configured plain-HTTP one, an error page, a list that is not a list), waits for ever on
a signer that hangs (holding a worker), or ignores the read-only copy of the signed records that
an auditor verifies against when the signer itself is out of reach.
Control: core.audit_signing._request accepts only http://host:port, a 200 answer holding a JSON
object, within AUDIT_SIGNER_TIMEOUT_S, and says why it refused; _sink_lines reads
AUDIT_CHECKPOINT_FILE when it is set (and only then asks the signer), refusing what it cannot read.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction
from django.utils import timezone

from core import audit, audit_signing
from core.audit_signing import BadCheckpoints, SignerUnavailable
from core.models import AuditCheckpoint, AuditEvent
from core.signer import canonical, line_digest, public_key_b64

pytestmark = pytest.mark.django_db


class _Scripted(BaseHTTPRequestHandler):
    """Answers every request with the server's current (status, body); records what it got."""

    def _answer(self) -> None:
        server: Any = self.server
        length = int(self.headers.get("Content-Length") or 0)
        server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "body": self.rfile.read(length) if length else b"",
            }
        )
        if server.hang is not None:
            server.hang.wait(10)  # never answers within the client's timeout
            return
        status, body = server.answer
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_signer(settings) -> Iterator[Any]:
    """A stand-in signer on a loopback port of its own (bound once, port 0), answering as told."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.seen, server.answer, server.hang = [], (200, {"status": "ok"}), None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.AUDIT_SIGNER_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.AUDIT_SIGNER_TIMEOUT_S = 0.5
    settings.AUDIT_CHECKPOINT_FILE = ""
    yield server
    if server.hang is not None:
        server.hang.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("url", ["https://127.0.0.1:9", "ftp://127.0.0.1:9", "http://", "http:///sign"])
def test_only_a_plain_http_address_with_a_host_is_used(settings, url) -> None:
    settings.AUDIT_SIGNER_URL = url
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._request("GET", "/healthz")
    assert str(refused.value) == "AUDIT_SIGNER_URL must be http://host:port"
    assert audit_signing.signer_reachable() is False


def test_an_answer_other_than_200_is_not_trusted(fake_signer) -> None:
    fake_signer.answer = (503, {"status": "ok"})
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._request("GET", "/healthz")
    assert str(refused.value) == "the signer answered 503"
    assert audit_signing.signer_reachable() is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([{"status": "ok"}], "the signer's answer is not a JSON object"),
        (b"<html>proxy error</html>", "the signer could not be reached: JSONDecodeError"),
    ],
)
def test_an_answer_that_is_not_a_json_object_is_not_trusted(fake_signer, body, reason) -> None:
    fake_signer.answer = (200, body)
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._request("GET", "/healthz")
    assert str(refused.value) == reason


def test_a_signer_that_hangs_is_given_up_after_the_timeout(fake_signer) -> None:
    fake_signer.hang = threading.Event()
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._request("GET", "/healthz")
    assert str(refused.value) == "the signer could not be reached: TimeoutError"


def test_nothing_listening_is_a_clear_failure(fake_signer, settings) -> None:
    fake_signer.shutdown()
    fake_signer.server_close()
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._request("GET", "/healthz")
    assert str(refused.value) == "the signer could not be reached: ConnectionRefusedError"


def test_requests_go_under_the_configured_path_and_only_a_post_carries_json(fake_signer, settings) -> None:
    settings.AUDIT_SIGNER_URL += "/signer/"
    assert audit_signing.signer_reachable() is True
    fake_signer.answer = (200, {"record": {}})
    audit_signing._request("POST", "/sign", {"head_id": 7, "note": "ü"})
    get, post = fake_signer.seen
    assert (get["method"], get["path"], get["content_type"], get["body"]) == ("GET", "/signer/healthz", None, b"")
    assert (post["method"], post["path"], post["content_type"]) == ("POST", "/signer/sign", "application/json")
    assert json.loads(post["body"].decode("utf-8")) == {"head_id": 7, "note": "ü"}


def test_a_checkpoint_list_that_is_not_a_list_is_refused(fake_signer, settings) -> None:
    settings.AUDIT_SIGNER_PUBLIC_KEY = ""
    fake_signer.answer = (200, {"checkpoints": {"1": "not a list"}})
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._sink_lines()
    assert str(refused.value) == "the signer's checkpoint list is malformed"
    assert fake_signer.seen[-1]["path"] == "/checkpoints"


@pytest.mark.django_db(transaction=True)
def test_the_read_only_copy_of_the_signed_records_is_used_when_set(audit_signer, settings, tmp_path) -> None:
    """An auditor verifies against a copy of the signer's sink (AUDIT_CHECKPOINT_FILE), not the
    signer: the copy is read even with the signer gone, blank lines and all."""
    audit.record_now("test.one")
    audit_signing.checkpoint()
    audit.record_now("test.two")
    audit_signing.checkpoint()
    copy = tmp_path / "copy.jsonl"
    shutil.copy(audit_signer.sink, copy)
    copy.write_text(copy.read_text() + "\n\n")
    audit_signer.stop()
    settings.AUDIT_CHECKPOINT_FILE = str(copy)
    checkpoints = audit_signing.signed_checkpoints()
    assert checkpoints is not None and [c.seq for c in checkpoints] == [1, 2]
    report = audit.verify_chain()
    assert report.ok and report.signed == 2


def test_an_unreadable_copy_says_why(audit_signer, settings, tmp_path) -> None:
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "missing.jsonl")
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._sink_lines()
    assert str(refused.value) == "the checkpoint file could not be read: FileNotFoundError"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"record": \n')
    settings.AUDIT_CHECKPOINT_FILE = str(broken)
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._sink_lines()
    assert str(refused.value) == "the checkpoint file could not be read: JSONDecodeError"


# --- the signed records themselves, checked one by one and as a sequence ----------------------------------------


def _signed_line(key: Any, seq: int, previous: dict[str, Any] | None, head_id: int, count: int) -> dict[str, Any]:
    """A record signed with a key of the test's own, laid out as core.signer writes it."""
    record = {
        "v": 1, "seq": seq, "prev": line_digest(previous) if previous else "", "head_id": head_id,
        "head_hash": f"{head_id:064x}", "count": count, "head_at": "2026-01-02T03:04:05+00:00",
        "signed_at": f"2026-01-02T03:{seq:02d}:00+00:00",
    }  # fmt: skip
    return {"record": record, "sig": base64.b64encode(key.sign(canonical(record))).decode("ascii")}


@pytest.fixture
def own_key(settings, tmp_path):
    """Records signed with a key whose public half the settings name, read from a sink copy."""
    key = Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNER_PUBLIC_KEY = public_key_b64(key)
    settings.AUDIT_SIGNER_URL = "http://127.0.0.1:9"  # never asked: the copy is read instead
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "sink.jsonl")

    def write(*lines: dict[str, Any]) -> None:
        Path(settings.AUDIT_CHECKPOINT_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))

    return key, write


def test_each_record_is_read_whole(own_key) -> None:
    key, write = own_key
    first = _signed_line(key, 1, None, head_id=10, count=10)
    write(first)
    [checkpoint] = audit_signing.signed_checkpoints() or []
    assert checkpoint == audit_signing.Checkpoint(
        seq=1, head_id=10, head_hash=f"{10:064x}", count=10,
        head_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), signed_at=datetime(2026, 1, 2, 3, 1, tzinfo=UTC),
    )  # fmt: skip


def test_a_record_changed_after_signing_or_malformed_is_refused_with_its_reason(own_key) -> None:
    key, write = own_key
    changed = _signed_line(key, 1, None, head_id=10, count=10)
    changed["record"]["count"] = 9
    write(changed)
    with pytest.raises(BadCheckpoints) as refused:
        audit_signing.signed_checkpoints()
    assert str(refused.value) == "a checkpoint's signature does not verify with the signer's public key"
    unsigned = _signed_line(key, 1, None, head_id=10, count=10)
    del unsigned["sig"]
    write(unsigned)
    with pytest.raises(BadCheckpoints) as refused:
        audit_signing.signed_checkpoints()
    assert str(refused.value) == "a checkpoint record is malformed"


def test_a_copy_with_bytes_outside_ascii_is_refused(own_key, settings) -> None:
    """core.signer writes ASCII only; anything else in the copy was not written by it."""
    key, write = own_key
    write(_signed_line(key, 1, None, head_id=10, count=10))
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    path.write_bytes(path.read_bytes().replace(b'"v": 1', '"v": 1, "n": "\u00e9"'.encode()))
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing._sink_lines()
    assert str(refused.value) == "the checkpoint file could not be read: UnicodeDecodeError"


def test_a_missing_or_reordered_record_is_found(own_key) -> None:
    key, write = own_key
    first = _signed_line(key, 1, None, head_id=10, count=10)
    second = _signed_line(key, 2, first, head_id=20, count=20)
    third = _signed_line(key, 3, second, head_id=30, count=30)
    write(first, second, third)
    assert [c.seq for c in audit_signing.signed_checkpoints() or []] == [1, 2, 3]
    # The second record removed: the third's number no longer follows (its "prev" is wrong too).
    write(first, third)
    with pytest.raises(BadCheckpoints) as refused:
        audit_signing.signed_checkpoints()
    assert str(refused.value) == "signed checkpoints are missing or out of order before number 3"
    # Numbered in order but not linked to the record before it (a record re-signed in its place).
    unlinked = _signed_line(key, 2, third, head_id=20, count=20)
    write(first, unlinked)
    with pytest.raises(BadCheckpoints) as refused:
        audit_signing.signed_checkpoints()
    assert str(refused.value) == "signed checkpoints are missing or out of order before number 2"


@pytest.mark.parametrize(("head_id", "count"), [(10, 20), (20, 10), (9, 20), (20, 9)])
def test_a_record_that_does_not_extend_the_one_before_is_refused(own_key, head_id, count) -> None:
    """Both the head and the count since the genesis must grow from one checkpoint to the next."""
    key, write = own_key
    first = _signed_line(key, 1, None, head_id=10, count=10)
    write(first, _signed_line(key, 2, first, head_id=head_id, count=count))
    with pytest.raises(BadCheckpoints) as refused:
        audit_signing.signed_checkpoints()
    assert str(refused.value) == "signed checkpoint 2 does not extend the one before it"


# --- asking for a checkpoint ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_is_never_asked_for_inside_a_transaction(fake_signer) -> None:
    audit.record_now("test.one")
    with transaction.atomic(), pytest.raises(RuntimeError) as refused:
        audit_signing.checkpoint()
    assert str(refused.value) == "audit_signing.checkpoint() must not run inside a database transaction"
    assert fake_signer.seen == []


@pytest.mark.django_db(transaction=True)
def test_an_unmoved_head_is_not_sent_to_the_signer_again(fake_signer) -> None:
    """Beat asks every few minutes; with no new event the stored checkpoint is the answer."""
    event = audit.record_now("test.one")
    stored = AuditCheckpoint.objects.create(
        seq=1, head_id=event.pk, head_hash=event.hash, count=AuditEvent.objects.count(),
        head_at=event.created_at, signed_at=event.created_at, line={},
    )  # fmt: skip
    assert audit_signing.checkpoint() == stored
    assert fake_signer.seen == []


def test_only_a_checkpoint_whose_head_event_is_still_there_unchanged_can_anchor_a_purge() -> None:
    """purge_anchor: a stored checkpoint naming an event that is gone, or naming an id with another
    event's hash, is not a place the kept chain may start from."""
    old = timezone.now() - timedelta(days=1)
    first, second = audit.record_now("test.one"), audit.record_now("test.two")

    def stored(seq: int, head_id: int, head_hash: str) -> AuditCheckpoint:
        return AuditCheckpoint.objects.create(
            seq=seq, head_id=head_id, head_hash=head_hash, count=seq, head_at=old, signed_at=old, line={}
        )

    stored(1, second.pk, first.hash)  # the id of one event with the hash of another
    stored(2, second.pk + 1000, second.hash)  # an id no event has, with a real hash
    assert audit_signing.purge_anchor(before=timezone.now(), stop_before_id=None) is None
    good = stored(3, first.pk, first.hash)
    assert audit_signing.purge_anchor(before=timezone.now(), stop_before_id=None) == good
    assert audit_signing.purge_anchor(before=timezone.now(), stop_before_id=first.pk) is None


def _answer_for(head: dict[str, Any], key: Any, **changes: Any) -> dict[str, Any]:
    record = {"v": 1, "seq": 1, "prev": "", **head, "signed_at": "2026-01-02T03:04:05+00:00", **changes}
    return {"record": record, "sig": base64.b64encode(key.sign(canonical(record))).decode("ascii")}


@pytest.mark.django_db(transaction=True)
def test_the_signers_answer_is_kept_only_for_this_head_and_only_when_it_verifies(fake_signer, settings) -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNER_PUBLIC_KEY = public_key_b64(key)
    audit.record_now("test.one")
    with transaction.atomic():
        head = audit_signing.current_head()
    assert head is not None

    fake_signer.answer = (200, _answer_for(head, key, head_id=head["head_id"] + 1))
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing.checkpoint()
    assert str(refused.value) == "the signer answered for another head"

    fake_signer.answer = (200, _answer_for(head, other))
    with pytest.raises(SignerUnavailable) as refused:
        audit_signing.checkpoint()
    assert str(refused.value) == (
        "the signer's answer does not verify: a checkpoint's signature does not verify with the signer's public key"
    )
    assert not AuditCheckpoint.objects.exists()

    fake_signer.answer = (200, _answer_for(head, key))
    stored = audit_signing.checkpoint()
    assert stored is not None and (stored.seq, stored.head_id, stored.head_hash) == (1, head["head_id"], head["head_hash"])
    assert [s["path"] for s in fake_signer.seen] == ["/sign", "/sign", "/sign"]
