"""Threat: the time of day of an anonymous reporter's actions identifies them (matched against
phone records, a shared computer's schedule, a partner's own logs).

Control: everything a receipt holder does is recorded by day only: audit events carry the day's
start in the centre's time zone (cases/intake.py `anonymous`, core/audit.day_only), rows keep a
date or the day's start (IntakeMessage.sent_on, DeletionRequest.requested_at, ConsentRecord,
IntakeReport.deletion_requested_at), and log lines written while a public request is handled
carry the day's start as their time (core/logs.py); work queued by it is not tied to it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from cases import intake
from cases.models import ConsentRecord, DeletionRequest, IntakeMessage, IntakeReport
from core.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

ANONYMOUS_ACTIONS = {
    "intake.received", "intake.reply", "intake.consent_withdrawn", "consent.withdraw",
    "intake.deletion_requested", "intake.urls_added",
}  # fmt: skip


def _is_day_start(value: datetime) -> bool:
    local = timezone.localtime(value)
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


def _report_and_act(caseworker, monkeypatch) -> IntakeReport:
    client = Client()
    page = client.post("/report/", {"description": "they posted it", "reporter_role": "victim",
                                    "urls": "https://chat.example/x", "consent_takedown": "on"}).content.decode()  # fmt: skip
    receipt = re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', page).group(1)
    report = IntakeReport.objects.get()
    intake.intake_open_case(report=report, acting_user=caseworker, pseudonym="Ash", category="other")
    # Whatever the code logs while it serves the reporter: here, a line written by the receipt check.
    real = intake.normalise_receipt

    def logged(value: str) -> str:
        logging.getLogger("cases.intake").warning("checking a receipt for the status page")
        return real(value)

    monkeypatch.setattr(intake, "normalise_receipt", logged)
    for action, data in (("reply", {"text": "any news?"}), ("add_urls", {"urls": "https://chat.example/y"}),
                         ("withdraw", {"kind": "takedown"}), ("delete", {})):  # fmt: skip
        assert client.post(f"/report/status/{action}/", {"receipt": receipt, **data}).status_code == 200
    return report


def test_audit_events_of_anonymous_actions_carry_only_the_day(caseworker, monkeypatch) -> None:
    _report_and_act(caseworker, monkeypatch)
    events = list(AuditEvent.objects.filter(action__in=ANONYMOUS_ACTIONS, actor_username="system"))
    assert {e.action for e in events} == ANONYMOUS_ACTIONS
    assert [e.action for e in events if not _is_day_start(e.created_at)] == []
    # Staff actions keep their time, and the chain still verifies (ordered by id).
    from core.audit import verify_chain

    assert verify_chain().ok


def test_rows_written_for_the_reporter_carry_only_the_day(caseworker, monkeypatch) -> None:
    report = _report_and_act(caseworker, monkeypatch)
    report.refresh_from_db()
    assert _is_day_start(report.deletion_requested_at)
    request = DeletionRequest.objects.get(report=report)
    assert _is_day_start(request.requested_at)
    withdrawal = ConsentRecord.objects.get(case=report.case, granted=False, note__contains="reporter")
    assert _is_day_start(withdrawal.recorded_at)
    assert IntakeMessage.objects.get(from_staff=False).sent_on == timezone.localdate()
    from cases.models import CaseEvent, EventKind

    assert _is_day_start(CaseEvent.objects.get(case=report.case, kind=EventKind.DELETION_REQUEST).created_at)


def test_log_lines_of_public_requests_carry_only_the_day(caseworker, monkeypatch) -> None:
    _report_and_act(caseworker, monkeypatch)
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in Path(settings.TEST_LOG_FILE).read_text().splitlines() if line.strip()]
    ours = [line for line in lines if line["message"] == "checking a receipt for the status page"]
    assert len(ours) >= 4
    assert [line["time"] for line in ours if not line["time"].endswith("T00:00:00.000Z")] == []


def test_an_access_line_for_a_public_path_carries_only_the_day() -> None:
    from core.logs import ContextFilter, JsonFormatter

    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"POST /report/status/ HTTP/1.1" 200 512', None, None)
    staff = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"GET /cases/ HTTP/1.1" 200 512', None, None)
    for item in (record, staff):
        ContextFilter().filter(item)
    assert json.loads(JsonFormatter().format(record))["time"].endswith("T00:00:00.000Z")
    assert staff.created % 86400 != 0
