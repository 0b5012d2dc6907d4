"""The audit signer's pieces that need no process: the S3 Object Lock request and the head rules.

The signer process itself, its file sink and the verification are exercised for real in
tests/security/test_audit_rewrite.py. No S3 store with Object Lock runs here, so the request the
signer sends is checked as botocore would send it (botocore's Stubber validates it against the
S3 API model, without network)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.signer import FileSink, Refused, S3Sink, Signer, canonical, s3_put_request

HEAD = {"head_id": 7, "head_hash": "a" * 64, "count": 7, "head_at": "2026-01-01T00:00:00+00:00"}


def test_each_checkpoint_goes_to_s3_locked_in_compliance_mode(tmp_path) -> None:
    signer = Signer(Ed25519PrivateKey.generate(), FileSink(tmp_path / "sink.jsonl"))
    line = signer.sign(HEAD)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    request = s3_put_request(line, bucket="audit", prefix="checkpoints/", retain_days=3650, now=now)
    assert request["Key"] == "checkpoints/000000000001.json"
    assert request["ObjectLockMode"] == "COMPLIANCE"
    assert request["ObjectLockRetainUntilDate"] == now + timedelta(days=3650)
    assert request["IfNoneMatch"] == "*"
    assert b'"head_hash":"' + b"a" * 64 in request["Body"]

    sink = S3Sink("audit", "checkpoints", 3650, endpoint_url="http://127.0.0.1:9")
    with Stubber(sink.client) as stub:
        # botocore checks every parameter against the S3 API model; the lock's date is the send time.
        stub.add_response("put_object", {"ETag": '"x"'}, {**request, "ObjectLockRetainUntilDate": ANY})
        sink.append(line)
        stub.assert_no_pending_responses()


def test_the_signer_refuses_malformed_or_older_heads(tmp_path) -> None:
    key = Ed25519PrivateKey.generate()
    signer = Signer(key, FileSink(tmp_path / "sink.jsonl"))
    first = signer.sign(HEAD)
    key.public_key().verify(base64.b64decode(first["sig"]), canonical(first["record"]))
    assert signer.sign(HEAD) == first  # a retry gets the same answer, no second record
    for bad in ({**HEAD, "head_hash": "xyz"}, {**HEAD, "head_id": "7"}, {**HEAD, "head_at": "yesterday"}):
        with pytest.raises(Refused) as refused:
            signer.sign(bad)
        assert refused.value.status == 400
    with pytest.raises(Refused) as refused:
        signer.sign({**HEAD, "head_id": 6, "head_hash": "b" * 64, "count": 6})
    assert refused.value.status == 409
    second = signer.sign({**HEAD, "head_id": 9, "head_hash": "c" * 64, "count": 9})
    assert second["record"]["seq"] == 2 and second["record"]["prev"]
    # A restarted signer remembers its last head from its own sink.
    again = Signer(key, FileSink(tmp_path / "sink.jsonl"))
    with pytest.raises(Refused):
        again.sign({**HEAD, "head_id": 8, "head_hash": "d" * 64, "count": 8})
    assert len((tmp_path / "sink.jsonl").read_text().splitlines()) == 2
