"""The scheduled audit-chain check runs in a real Celery worker and alerts admins by e-mail."""

from __future__ import annotations

import pytest

from core.models import AuditEvent, SystemState
from core.tasks import verify_audit_chain_task
from tests import factories
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_worker_verifies_a_whole_chain(celery_worker_process, central) -> None:
    factories.make_user("admin", central, email="admin-ok@centre.example")
    factories.make_case(factories.make_user("caseworker", central))
    verify_audit_chain_task.delay()
    event = wait_until(lambda: AuditEvent.objects.filter(action="audit.chain_verified").first())
    assert event.details["ok"] is True
    assert event.details["checked"] >= 3
    assert SystemState.objects.get(key="audit_chain_check").value["ok"] is True


def test_worker_alerts_admins_when_the_chain_is_broken(celery_worker_process, smtp_sink, central) -> None:
    factories.make_user("admin", central, email="admin-alert@centre.example")
    factories.make_case(factories.make_user("caseworker", central))
    target = AuditEvent.objects.order_by("id")[1]
    factories.rewrite_audit_event(target.id)
    verify_audit_chain_task.delay()
    message = smtp_sink.wait_for(lambda m: "admin-alert@centre.example" in str(m["To"]))
    assert "Audit chain broken" in str(message["Subject"])
    assert f"event {target.id}" in message.get_content()
    event = wait_until(lambda: AuditEvent.objects.filter(action="audit.chain_broken").first())
    assert event.details["broken_at"] == target.id
