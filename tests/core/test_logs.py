"""Logs never hold victim data, media, receipt codes, tokens or the reporter's address.

The shapes the filter knows are tested one by one; then a realistic flow (a public report with a
file and contact details, the reporter checking progress, triage, API use with a token, an upload,
a notice delivered by a real worker, a task failing with contact details in its message) runs
while every log record is captured, from the root logger and from the worker's log file, and the
captured text is searched for the actual values. At the end of every test run, tests/conftest.py
also searches the run's whole log for every receipt and token the run created.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from cases import intake
from cases.models import IntakeReport
from core.logs import ContextFilter, JsonFormatter, RedactingFilter, redact, request_id_var
from core.models import SystemState, TaskFailure
from takedowns import services as takedown_services
from takedowns.models import Notice, TakedownRequest
from tests import factories, media
from tests.conftest import clear_queues, run_file, start_celery, stop_process, wait_until, worker_env


def _format(record: logging.LogRecord) -> str:
    RedactingFilter().filter(record)
    ContextFilter().filter(record)
    return JsonFormatter().format(record)


def _record(msg: str, *args: object, name: str = "test", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_each_kind_of_secret_is_replaced_by_a_marker() -> None:
    receipt = intake.new_receipt()
    token = "Q2hhbmdlLW1lLXRva2VuLXZhbHVlLTEyMzQ1Njc4OTA"
    cases = {
        f"receipt {receipt} checked": "[redacted-code]",
        f"receipt {intake.normalise_receipt(receipt)} checked": "[redacted-token]",
        f"Authorization: Token {token}": "Token [redacted]",
        f"Authorization: Bearer {token}": "Bearer [redacted]",
        f"/api/v1/?token={token}&x=1": "token=[redacted]&x=1",
        "otpauth://totp/Centre:kim?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Centre": "secret=[redacted]",
        "key 3132333435363738393031323334353637383930 stored": "key [redacted-token] stored",
        "write to yerin.seo@mail.example": "write to [redacted-email]",
        "call 010-4821-7735 or +82 10 4821 7735": "call [redacted-phone] or [redacted-phone]",
        "from 198.51.100.23 via 2001:db8::1": "from [redacted-ip] via [redacted-ip]",
        "postgres://app:s3cret@db:5432/x": "postgres://[redacted]@db:5432/x",
    }
    for text, expected in cases.items():
        assert expected in redact(text), text
    # What operators need stays: task ids, names, times, loopback services, plain prose.
    kept = "task 3f2a1c9e-1234-4cde-9abc-0123456789ab of takedowns.tasks.deliver_notice at 12:34:56 on 127.0.0.1:6379"
    assert redact(kept) == kept
    assert redact("that will make this much more sense than that") == "that will make this much more sense than that"


def test_json_lines_carry_the_request_id_and_redacted_arguments_and_exceptions() -> None:
    token = request_id_var.set("req-0123456789")
    try:
        try:
            raise ValueError("bad contact yerin.seo@mail.example")
        except ValueError:
            import sys

            record = _record("reporter %s wrote from %s", "yerin.seo@mail.example", "198.51.100.23")
            record.exc_info = sys.exc_info()
        line = json.loads(_format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "reporter [redacted-email] wrote from [redacted-ip]"
    assert line["request_id"] == "req-0123456789"
    assert line["level"] == "WARNING"
    assert "ValueError: bad contact [redacted-email]" in line["exception"]
    assert "yerin" not in json.dumps(line)


def test_the_request_object_and_its_body_are_dropped() -> None:
    request = RequestFactory().post(
        "/report/status/?receipt=ABCD", data={"receipt": "SECRET-BODY-VALUE", "contact_email": "yerin.seo@mail.example"},
        REMOTE_ADDR="198.51.100.23",
    )  # fmt: skip
    record = _record("Internal Server Error: %s", request.path, name="django.request", request=request, status_code=500)
    text = _format(record)
    line = json.loads(text)
    assert line["http_method"] == "POST"
    assert line["http_path"] == "/report/status/"
    assert line["status_code"] == 500
    for secret in ("SECRET-BODY-VALUE", "yerin", "198.51.100.23", "receipt=ABCD"):
        assert secret not in text


def test_extra_fields_are_left_out_unless_known() -> None:
    text = _format(_record("uploaded", victim_name="Seo Yerin", duration_ms=12))
    assert "Seo Yerin" not in text
    assert json.loads(text)["duration_ms"] == 12


@pytest.mark.django_db
def test_every_response_names_its_request_id() -> None:
    first = Client().get("/healthz")
    second = Client().get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{16}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    # A proxy's id is kept when it is a plain id, replaced when it could carry anything else.
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e11").headers["X-Request-ID"] == "lb-7f3a9c2e11"
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="me@example.org").headers["X-Request-ID"] != "me@example.org"


@pytest.mark.django_db
def test_error_responses_are_logged_with_their_request_id(caplog) -> None:
    # (/readyz's 503s are not logged per request: core.health logs a change of state instead.)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get("/transparency/no-such-page/?q=x", HTTP_X_REQUEST_ID="lb-probe-000001")
    assert response.status_code == 404
    record = next(r for r in caplog.records if r.name == "django.request")
    line = json.loads(_format(record))
    assert line["request_id"] == "lb-probe-000001"
    assert line["http_path"] == "/transparency/no-such-page/"  # without its query string


# The whole flow ---------------------------------------------------------------------------------

IP = "198.51.100.23"
NAME = "Seo Yerin"
EMAIL = "yerin.seo@mail.example"
PHONE = "010-4821-7735"
PSEUDONYM = "Magnolia Quill"
FILE_NAME = "seo-yerin-private.jpg"


@pytest.fixture(scope="module")
def own_worker(django_db_setup, django_db_blocker, smtp_sink):
    """A worker whose log file is its own (under this run's folder, tests/conftest.py run_file)."""
    clear_queues()
    log_name = "test-logs-worker.log"
    proc = start_celery("worker", worker_env(smtp_sink.port), log_name)
    yield proc, run_file(log_name)
    stop_process(proc)


@pytest.fixture
def captured():
    """Every record reaching the root logger (at DEBUG, for this test), as production would write it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    run_log = Path(settings.TEST_LOG_FILE)
    start = run_log.stat().st_size if run_log.exists() else 0
    yield stream, run_log, start
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_realistic_flow_leaves_no_victim_data_in_any_log(own_worker, captured, central, client_for, api_for) -> None:
    from config.celery import app

    stream, run_log, start = captured
    worker_log_file = own_worker[1]
    caseworker = factories.make_user("caseworker", central, username="cw_logs")
    takedown_services.platform_create(
        acting_user=None, name="Chat Host", domains=["chat.example"], channel="email", email="abuse@chat.example",
        jurisdiction="KR",
    )  # fmt: skip

    # 1. A public report: contact details, a file named after the victim, the reporter's address.
    upload = io.BytesIO(media.image_bytes("JPEG", seed=811))
    upload.name = FILE_NAME
    reporter = Client()
    response = reporter.post(
        "/report/",
        {
            "description": f"My name is {NAME}; my pictures are in a chat room.", "urls": "https://chat.example/room/77",
            "reporter_role": "victim", "is_minor": "no", "consent_takedown": "on", "contact_name": NAME,
            "contact_email": EMAIL, "contact_phone": PHONE, "files": [upload],
        },
        REMOTE_ADDR=IP, HTTP_X_FORWARDED_FOR=IP, HTTP_USER_AGENT="Mozilla/5.0 (LogTest)",
    )  # fmt: skip
    assert response.status_code == 200
    receipt = re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)
    # 2. The reporter checks progress, mistypes once, and writes back.
    assert reporter.post("/report/status/", {"receipt": receipt}, REMOTE_ADDR=IP).status_code == 200
    wrong = receipt[:-1] + ("B" if receipt.endswith("A") else "A")  # always differs from the real one
    assert reporter.post("/report/status/", {"receipt": wrong}, REMOTE_ADDR=IP).status_code == 404
    reporter.post("/report/status/reply/", {"receipt": receipt, "text": f"{NAME} here, call {PHONE}"}, REMOTE_ADDR=IP)
    # 3. Triage opens the case; the address becomes a draft, which is approved and sent by the worker.
    report = IntakeReport.objects.get()
    staff = client_for(caseworker)
    staff.post(f"/intake/{report.pk}/", {"action": "open_case", "pseudonym": PSEUDONYM, "category": "intimate_image"})
    report.refresh_from_db()
    case = report.case
    drafts = list(TakedownRequest.objects.filter(case=case))
    assert len(drafts) == 1
    takedown_services.takedown_approve(requests=drafts, acting_user=caseworker)
    wait_until(lambda: Notice.objects.filter(request__case=case, status="delivered").count() == len(drafts), timeout=30)
    # 4. The API with a token (and once with a wrong one), and an upload named after the victim.
    # A token is a service account's (the caseworker's twin: same role and centre).
    token = factories.issue_token(caseworker)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/cases/", REMOTE_ADDR=IP).status_code == 200
    assert Client().get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {token}x", REMOTE_ADDR=IP).status_code == 401
    upload = io.BytesIO(media.image_bytes("PNG", seed=812))
    upload.name = FILE_NAME
    # The upload goes to the caseworker's own case, through their verified session (the twin sees
    # only cases it works on).
    person = api_for(caseworker)
    assert person.post(f"/api/v1/cases/{case.pk}/evidence/", {"file": upload}, format="multipart").status_code == 201
    # 5. A task fails in the worker with contact details in its message.
    SystemState.objects.create(key="test-switch-70", value={"fail": True, "contact": EMAIL, "ip": IP})
    app.send_task("tests.fail_while_asked", args=[70])
    failure = wait_until(lambda: TaskFailure.objects.filter(task_name="tests.fail_while_asked", args=[70]).first())

    wait_until(lambda: "tests.fail_while_asked" in worker_log_file.read_text(errors="replace"))
    worker_log = worker_log_file.read_text(errors="replace")
    with run_log.open(encoding="utf-8", errors="replace") as fh:
        fh.seek(start)
        run_text = fh.read()
    texts = {"root logger": stream.getvalue(), "worker log": worker_log, "test run log": run_text, "failure": failure.message}
    # The capture really saw the flow (so an empty capture cannot pass for a clean one).
    assert "fail_while_asked" in worker_log and "succeeded" in worker_log
    assert "fail_while_asked" in run_text
    assert stream.getvalue().count("\n") > 0
    secrets = {
        "receipt": receipt, "receipt without dashes": intake.normalise_receipt(receipt), "API token": token,
        "victim name": NAME, "victim name in a file name": "seo-yerin", "pseudonym": PSEUDONYM, "e-mail": EMAIL,
        "phone": PHONE, "reporter's address": IP, "user agent": "LogTest",
    }  # fmt: skip
    for where, text in texts.items():
        for what, value in secrets.items():
            assert value.lower() not in text.lower(), f"{what} found in the {where}"
