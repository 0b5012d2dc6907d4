"""The audit log: one event per service call, append-only in the database, hash-chained."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from cases import services as case_services
from core import audit
from core.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _actions_since(first_id: int) -> list[str]:
    return list(AuditEvent.objects.filter(id__gt=first_id).order_by("id").values_list("action", flat=True))


def test_each_service_call_writes_one_event_with_who_and_role(caseworker: factories.User, supervisor: factories.User) -> None:
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    case = factories.make_case(caseworker, consent={"police_referral": True})
    case_services.case_add_note(case=case, text="Called the victim", acting_user=caseworker)
    case_services.case_set_status(case=case, status="open", acting_user=caseworker)
    case_services.case_assign(case=case, assignee=caseworker, acting_user=supervisor)
    case_services.referral_create(case=case, kind="police", acting_user=caseworker)
    assert _actions_since(start) == [
        "case.create",
        "consent.grant",
        "case.note",
        "case.status",
        "case.assign",
        "referral.create",
    ]
    event = AuditEvent.objects.get(action="case.assign")
    assert event.actor_username == supervisor.username
    assert event.actor_role == "supervisor"
    assert event.object_type == "cases.case"
    assert event.object_id == str(case.pk)
    assert event.created_at.utcoffset().total_seconds() == 0


def test_event_and_write_share_one_transaction(caseworker: factories.User) -> None:
    case = factories.make_case(caseworker)
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        case_services.case_add_note(case=case, text="will be rolled back", acting_user=caseworker)
        raise RuntimeError("boom")
    assert AuditEvent.objects.count() == before
    assert not case.events.filter(kind="note").exists()


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction() -> None:
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside transaction"):
        audit.record("test.event", actor=None)
    assert not AuditEvent.objects.filter(action="test.event").exists()


def test_database_rejects_update_delete_and_truncate(caseworker: factories.User) -> None:
    factories.make_case(caseworker)
    for sql in (
        "UPDATE core_auditevent SET action = 'tampered'",
        "DELETE FROM core_auditevent",
        "TRUNCATE core_auditevent",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert not AuditEvent.objects.filter(action="tampered").exists()
    assert AuditEvent.objects.exists()


def test_orm_update_is_rejected_too(caseworker: factories.User) -> None:
    factories.make_case(caseworker)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.update(details={"x": 1})


def test_chain_is_whole_and_linked(caseworker: factories.User) -> None:
    factories.make_case(caseworker)
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) >= 3
    for prev, event in itertools.pairwise(events):
        assert event.prev_hash == prev.hash
    report = audit.verify_chain()
    assert report.ok
    assert report.checked == len(events)


def _tamper(sql: str, params: list[object]) -> None:
    """What someone with the database owner's rights could do: switch the trigger off and edit."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_update_delete")


def test_verifier_finds_an_edited_event(caseworker: factories.User, capsys: pytest.CaptureFixture[str]) -> None:
    factories.make_case(caseworker)
    factories.make_case(caseworker)
    target = AuditEvent.objects.order_by("id")[2]
    _tamper("UPDATE core_auditevent SET details = %s WHERE id = %s", ['{"reason": "edited"}', target.id])
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_at == target.id
    assert "content" in report.reason
    with pytest.raises(CommandError, match=f"broken at event {target.id}"):
        call_command("verify_audit_chain")


def test_verifier_finds_a_deleted_event(caseworker: factories.User) -> None:
    factories.make_case(caseworker)
    events = list(AuditEvent.objects.order_by("id"))
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [events[1].id])
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_at == events[2].id
    assert "link" in report.reason


def test_verify_command_reports_a_whole_chain(caseworker: factories.User, capsys: pytest.CaptureFixture[str]) -> None:
    factories.make_case(caseworker)
    call_command("verify_audit_chain")
    assert "whole" in capsys.readouterr().out


def test_viewing_a_case_and_identity_is_recorded(caseworker: factories.User, client_for) -> None:
    case = factories.make_case(caseworker, victim={"pseudonym": "Owl", "legal_name": "Real Name"})
    client = client_for(caseworker)
    client.get(f"/cases/{case.pk}/")
    assert AuditEvent.objects.filter(action="case.view", object_id=str(case.pk), actor_username=caseworker.username).exists()
    response = client.post(f"/cases/{case.pk}/identity/")
    assert "Real Name" in response.content.decode()
    assert AuditEvent.objects.filter(action="victim.identity_view", object_id=str(case.pk)).exists()
    # The identity never appears on the case page itself.
    assert "Real Name" not in client.get(f"/cases/{case.pk}/").content.decode()


def test_auditor_browses_and_filters_the_log(central, client_for, caseworker: factories.User) -> None:
    factories.make_case(caseworker)
    auditor = factories.make_user("auditor", central)
    client = client_for(auditor)
    response = client.get("/audit/", {"action": "case.create"})
    assert response.status_code == 200
    assert {e.action for e in response.context["page"]} == {"case.create"}
    html = response.content.decode()
    assert "Case opened" in html
    assert "Staff account created</span>" not in html
    # Nobody else sees the audit page.
    assert client_for(caseworker).get("/audit/").status_code == 404


def test_sensitive_values_stay_out_of_the_log(caseworker: factories.User) -> None:
    case = factories.make_case(
        caseworker,
        summary="very private summary",
        victim={"pseudonym": "Lark", "legal_name": "Hong Gildong", "contact_phone": "010-1234-5678"},
    )
    case_services.case_add_note(case=case, text="private note text", acting_user=caseworker)
    dump = " ".join(str(e.details) for e in AuditEvent.objects.all())
    for secret in ("very private summary", "Hong Gildong", "010-1234-5678", "private note text"):
        assert secret not in dump


def test_opening_the_edit_form_counts_as_seeing_the_identity(caseworker: factories.User, client_for) -> None:
    case = factories.make_case(caseworker, victim={"pseudonym": "Finch", "legal_name": "Lee Seoyeon"})
    response = client_for(caseworker).get(f"/cases/{case.pk}/edit/")
    assert "Lee Seoyeon" in response.content.decode()
    assert AuditEvent.objects.filter(action="victim.identity_view", object_id=str(case.pk)).count() == 1
