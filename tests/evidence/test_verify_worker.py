"""The scheduled integrity check runs in a real worker and e-mails admins about a damaged file."""

from __future__ import annotations

import pytest
from django.conf import settings

from evidence.tasks import verify_all_evidence
from tests import factories
from tests.evidence.helpers import add_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_scheduled_check_alerts_admins(celery_worker_process, smtp_sink, caseworker, central, tmp_path) -> None:
    factories.make_user("admin", central, email="locker-admin@centre.example")
    case = factories.make_case(caseworker)
    add_image(case, caseworker, tmp_path, seed=61)
    bad = add_image(case, caseworker, tmp_path, seed=62)
    blob = settings.EVIDENCE_ROOT / bad.storage_key
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    verify_all_evidence.delay()
    message = smtp_sink.wait_for(lambda m: "locker-admin@centre.example" in str(m["To"]), timeout=60)
    assert "integrity" in str(message["Subject"]).lower()
    body = message.get_content()
    assert f"evidence {bad.pk}" in body
    assert case.reference in body
    assert "1 of 2" in body


def test_the_evidence_page_shows_what_the_scheduled_check_found(celery_worker_process, caseworker, client_for, tmp_path) -> None:
    """After the worker's check, the caseworker reads it on each item's page: the damaged one's
    custody log says the check failed; the intact one shows when it was last verified."""
    from evidence.models import CustodyEvent
    from tests.conftest import wait_until
    from tests.pagetext import visible_text

    case = factories.make_case(caseworker)
    good = add_image(case, caseworker, tmp_path, seed=63)
    bad = add_image(case, caseworker, tmp_path, seed=64)
    blob = settings.EVIDENCE_ROOT / bad.storage_key
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    verify_all_evidence.delay()
    wait_until(
        lambda: CustodyEvent.objects.filter(evidence__in=[good, bad], action__startswith="verify").count() == 2, timeout=60
    )

    page = client_for(caseworker)
    damaged = visible_text(page.get(f"/evidence/{bad.pk}/").content.decode())
    intact = visible_text(page.get(f"/evidence/{good.pk}/").content.decode())
    assert "Integrity check FAILED" in damaged and "Integrity check FAILED" not in intact
    assert "Integrity verified" in intact
    assert "Last verified -" in damaged and "Last verified -" not in intact
