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

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core import audit, audit_signing
from core.audit_signing import SignerUnavailable

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
