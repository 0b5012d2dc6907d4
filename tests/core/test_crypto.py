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
