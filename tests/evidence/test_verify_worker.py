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
