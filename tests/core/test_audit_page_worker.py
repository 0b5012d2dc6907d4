"""The auditor's "Check the chain now" on the audit page, carried out by a real Celery worker."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from core.models import AuditEvent
from tests import factories
from tests.conftest import wait_until
from tests.pagetext import visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _page_after_check(client) -> str:
    def done() -> str | None:
        text = visible_text(client.get("/audit/").content.decode())
        return None if "is running" in text else text

    # Generous: on a loaded machine the solo worker may still be finishing another module's task.
    return wait_until(done, timeout=90)


def test_auditor_checks_a_whole_chain_from_the_page(celery_worker_process, central) -> None:
    auditor = factories.make_user("auditor", central, username="auditor_w1")
    factories.make_case(factories.make_user("caseworker", central))
    client = factories.login_verified(Client(), auditor)
    client.post("/audit/")
    text = _page_after_check(client)
    assert re.search(r"Whole: \d+ events checked", text)
    assert "Last checked: " in text and auditor.username in text
    event = AuditEvent.objects.get(action="audit.chain_verified")
    assert event.actor_username == auditor.username


def test_auditor_finds_a_rewritten_event_and_admins_are_told(celery_worker_process, smtp_sink, central) -> None:
    factories.make_user("admin", central, email="admin-audit-page@centre.example")
    auditor = factories.make_user("auditor", central, username="auditor_w2")
    factories.make_case(factories.make_user("caseworker", central))
    target = AuditEvent.objects.order_by("id")[1]
    factories.rewrite_audit_event(target.id)
    client = factories.login_verified(Client(), auditor)
    client.post("/audit/")
    text = _page_after_check(client)
    assert f"Broken at event {target.id}" in text
    message = smtp_sink.wait_for(lambda m: "admin-audit-page@centre.example" in str(m["To"]), timeout=90)
    assert "Audit chain broken" in str(message["Subject"])
