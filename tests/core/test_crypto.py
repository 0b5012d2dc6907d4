from __future__ import annotations

import pytest
from django.db import connection

from tests import factories

pytestmark = pytest.mark.django_db


def test_identity_contact_and_notes_are_encrypted_at_rest(caseworker: factories.User) -> None:
    case = factories.make_case(
        caseworker,
        summary="what happened in detail",
        victim={
            "pseudonym": "Wren",
            "legal_name": "Kim Minji",
            "contact_email": "minji@example.org",
            "contact_phone": "010-9999-0000",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT legal_name, contact_email, contact_phone FROM cases_victim WHERE id = %s", [case.victim_id])
        stored = cursor.fetchone()
        cursor.execute("SELECT summary FROM cases_case WHERE id = %s", [case.pk])
        stored += cursor.fetchone()
    for value, plain in zip(stored, ["Kim Minji", "minji@example.org", "010-9999-0000", "what happened in detail"], strict=True):
        assert plain not in value
        assert value.startswith("f1:")
    case.victim.refresh_from_db()
    assert case.victim.legal_name == "Kim Minji"


def test_a_note_typed_on_the_case_page_is_shown_there_and_stored_encrypted(caseworker: factories.User, client_for) -> None:
    """The caseworker writes a note on the case page and reads it back there; the database
    column holds only ciphertext."""
    from cases.models import CaseEvent
    from tests.pagetext import visible_text

    case = factories.make_case(caseworker)
    page = client_for(caseworker)
    note = "Victim called back; the second link is also hers."
    assert page.post(f"/cases/{case.pk}/notes/", {"note-text": note}).status_code == 302
    assert note in visible_text(page.get(f"/cases/{case.pk}/").content.decode())
    event = CaseEvent.objects.get(case=case, kind="note")
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM cases_caseevent WHERE id = %s", [event.pk])
        (stored,) = cursor.fetchone()
    assert note not in stored and stored.startswith("f1:")
