from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import SIM_SECRET as SECRET


@pytest.fixture
def sim_platform(simulator, db):
    from takedowns.services import platform_create

    return platform_create(
        acting_user=None, name="Simulated Video", domains=["127.0.0.1"], channel="api", endpoint=simulator.endpoint,
        secret=SECRET, jurisdiction="KR", sla_hours=24, notice_language="ko",
        escalation_name="KCSC (test)", escalation_email="regulator@kcsc.example",
    )  # fmt: skip


@pytest.fixture
def mail_platform(db):
    from takedowns.services import platform_create

    return platform_create(
        acting_user=None, name="Mail Host", domains=["localhost"], channel="email", email="abuse@mailhost.example",
        jurisdiction="UK", notice_language="en",
    )  # fmt: skip


def consenting_case(user, **kwargs):
    return factories.make_case(user, consent={"takedown": True, "hash_sharing": True}, **kwargs)
