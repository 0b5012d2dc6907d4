"""Guard: an original leaves the locker only for a supervisor of the case's centre or a person
holding a supervisor's unexpired grant (evidence.services.evidence_download and
evidence_export, through evidence.selectors.may_download).

The caseworker here has just typed a fresh authenticator code, so the only thing that can refuse
them is the missing grant: a test that posts without a code would be refused for the code and
would pass with the grant check deleted.
"""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import AuditEvent
from evidence.models import CustodyEvent
from tests import factories
from tests.evidence.helpers import add_image
from tests.pagetext import visible_text

pytestmark = pytest.mark.django_db(transaction=True)  # evidence is stored outside a transaction

REASON = "For the police report"


def _code(user: factories.User, step: int = 0) -> str:
    return factories.totp_code(factories.make_device(user), offset_steps=step)


def _grant(supervisor: factories.User, case_pk: int, user: factories.User) -> None:
    boss = factories.login_verified(Client(), supervisor)
    response = boss.post(
        f"/evidence/case/{case_pk}/grant/", {"grant-user": str(user.pk), "grant-hours": "2", "grant-reason": "Court bundle"}
    )
    assert response.status_code == 302


def test_a_caseworker_with_a_fresh_code_but_no_grant_gets_no_original(caseworker, supervisor, client_for, tmp_path) -> None:
    case = factories.make_case(caseworker)
    evidence = add_image(case, caseworker, tmp_path)
    worker = client_for(caseworker)

    response = worker.post(f"/evidence/{evidence.pk}/download/", {"reason": REASON, "code": _code(caseworker)}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/evidence/{evidence.pk}/"
    assert "Downloading originals needs the supervisor role or a supervisor's grant." in visible_text(response.content.decode())
    assert not CustodyEvent.objects.filter(evidence=evidence, action="download").exists()
    assert not AuditEvent.objects.filter(action="evidence.download").exists()

    # The same person, once a supervisor of the centre grants it: the original.
    _grant(supervisor, case.pk, caseworker)
    response = worker.post(f"/evidence/{evidence.pk}/download/", {"reason": REASON, "code": _code(caseworker, 1)})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert CustodyEvent.objects.get(evidence=evidence, action="download").actor == caseworker


def test_a_caseworker_with_a_fresh_code_but_no_grant_exports_nothing(caseworker, supervisor, client_for, tmp_path) -> None:
    case = factories.make_case(caseworker)
    add_image(case, caseworker, tmp_path)
    worker = client_for(caseworker)

    response = worker.post(
        f"/evidence/case/{case.pk}/export/", {"reason": "Requested by Seoul police", "code": _code(caseworker)}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/#evidence"
    assert not AuditEvent.objects.filter(action="evidence.export").exists()
    assert not CustodyEvent.objects.filter(action="export").exists()

    _grant(supervisor, case.pk, caseworker)
    response = worker.post(
        f"/evidence/case/{case.pk}/export/", {"reason": "Requested by Seoul police", "code": _code(caseworker, 1)}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert AuditEvent.objects.get(action="evidence.export").actor_username == caseworker.username


def test_a_grant_on_one_case_opens_no_other(caseworker, supervisor, client_for, tmp_path) -> None:
    granted = factories.make_case(caseworker)
    other = factories.make_case(caseworker)
    add_image(granted, caseworker, tmp_path, seed=1)
    evidence = add_image(other, caseworker, tmp_path, seed=2)
    _grant(supervisor, granted.pk, caseworker)
    worker = client_for(caseworker)
    response = worker.post(f"/evidence/{evidence.pk}/download/", {"reason": REASON, "code": _code(caseworker)})
    assert response.status_code == 302
    assert not CustodyEvent.objects.filter(evidence=evidence, action="download").exists()
