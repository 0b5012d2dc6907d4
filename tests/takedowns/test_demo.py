"""`load_demo` and `load_platforms`: the demo data for `make run`, safe to load twice."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cases.models import Case
from core.demo import DEMO_USERS
from core.models import AuditEvent, Centre, User
from takedowns.management.commands.load_platforms import FIXTURE
from takedowns.models import Platform, RequestStatus, TakedownRequest
from takedowns.selectors import platform_for_url

FIXTURE_NAMES = {row["fields"]["name"] for row in json.loads(FIXTURE.read_text(encoding="utf-8"))}


@pytest.mark.django_db
def test_load_demo_twice_creates_everything_once(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())

    assert set(Centre.objects.values_list("code", flat=True)) == {"central", "busan"}
    assert Centre.objects.filter(is_central=True).count() == 1
    for username, role, centre in DEMO_USERS:
        user = User.objects.get(username=username)
        assert (user.role, user.centre.code) == (role, centre)
        assert user.totpdevice_set.count() == 1
    assert User.objects.count() == len(DEMO_USERS)

    names = list(Platform.objects.values_list("name", flat=True))
    assert len(names) == len(set(names)) == len(FIXTURE_NAMES) + 2
    assert set(names) >= FIXTURE_NAMES
    sim = Platform.objects.get(name="Demo Video Platform (simulator)")
    assert (sim.channel, sim.domains, sim.endpoint, sim.secret) == (
        "api", ["127.0.0.1"], "http://127.0.0.1:8030/v1/notices", "demo-secret"
    )  # fmt: skip
    assert (sim.jurisdiction, sim.notice_language, sim.escalation_name, sim.escalation_email) == (
        "KR", "ko", "KCSC (demo)", "kcsc@demo.invalid"
    )  # fmt: skip
    mail = Platform.objects.get(name="Demo Mail Host (sink)")
    assert (mail.channel, mail.domains, mail.email) == ("email", ["localhost"], "abuse@demo-host.invalid")
    assert platform_for_url("http://localhost:8030/demo/post/1") == mail

    assert Case.objects.count() == 4
    assert Case.objects.filter(created_by__username="caseworker").count() == 3
    drafts = TakedownRequest.objects.all()
    assert sorted(drafts.values_list("url", flat=True)) == [f"http://127.0.0.1:8030/demo/post/{n}" for n in range(1, 6)]
    first_case = Case.objects.filter(created_by__username="caseworker").order_by("created_at", "pk").first()
    assert {(r.case_id, r.status, r.platform_id) for r in drafts} == {(first_case.pk, RequestStatus.DRAFT, sim.pk)}
    # Written through the services, so the audit log has them, once.
    assert AuditEvent.objects.filter(action="takedown.bulk_create").count() == 1
    assert AuditEvent.objects.filter(action="platform.load_fixture").count() == 1


@pytest.mark.django_db
def test_load_demo_refuses_without_debug(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("load_demo", stdout=StringIO())
    assert not User.objects.exists()


@pytest.mark.django_db
def test_load_platforms_is_idempotent_and_keeps_edits() -> None:
    out = StringIO()
    call_command("load_platforms", stdout=out)
    assert f"{len(FIXTURE_NAMES)} platforms added" in out.getvalue()
    assert f"{len(FIXTURE_NAMES)} platforms exist" in out.getvalue()
    assert set(Platform.objects.values_list("name", flat=True)) == FIXTURE_NAMES

    # A change made since (there is no platform-update service yet, so the ORM stands in for it)
    # survives a second run; plain loaddata would overwrite it.
    Platform.objects.filter(name="Telegram").update(email="abuse-desk@telegram.example")
    out = StringIO()
    call_command("load_platforms", stdout=out)
    assert "0 platforms added" in out.getvalue()
    assert f"{len(FIXTURE_NAMES)} platforms exist" in out.getvalue()
    assert Platform.objects.get(name="Telegram").email == "abuse-desk@telegram.example"


@pytest.mark.django_db
def test_load_platforms_adds_only_what_is_missing() -> None:
    from takedowns.services import platform_create

    own = platform_create(
        acting_user=None, name="Telegram", domains=["t.me"], channel="email", email="desk@telegram.example", jurisdiction="AE"
    )
    out = StringIO()
    call_command("load_platforms", stdout=out)
    assert f"{len(FIXTURE_NAMES) - 1} platforms added" in out.getvalue()
    assert f"{len(FIXTURE_NAMES)} platforms exist" in out.getvalue()
    own.refresh_from_db()
    assert (own.email, own.domains) == ("desk@telegram.example", ["t.me"])
    assert set(Platform.objects.values_list("name", flat=True)) == FIXTURE_NAMES
    # The missing ones went through platform_create, so each has its audit event.
    assert AuditEvent.objects.filter(action="platform.create").count() == len(FIXTURE_NAMES)


@pytest.mark.django_db
def test_the_demo_caseworker_signs_in_and_finds_the_demo_drafts(settings) -> None:
    """What a person trying `make run` does: sign in as the demo caseworker with the demo password
    and the authenticator code, open the cases list and the first case's takedown drafts."""
    from django.test import Client

    from core.demo import DEMO_PASSWORD
    from tests import factories

    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    user = User.objects.get(username="caseworker")
    client = Client()
    assert client.post("/accounts/login/", {"username": "caseworker", "password": DEMO_PASSWORD}).status_code == 302
    code = factories.totp_code(user.totpdevice_set.get())
    assert client.post("/accounts/verify/", {"code": code}).status_code == 302
    listing = client.get("/cases/").content.decode()
    mine = Case.objects.filter(created_by=user)
    assert all(case.reference in listing for case in mine)
    assert not any(case.reference in listing for case in Case.objects.exclude(created_by=user))
    first = mine.order_by("created_at", "pk").first()
    page = client.get(f"/cases/{first.pk}/").content.decode()
    assert all(f"http://127.0.0.1:8030/demo/post/{n}" in page for n in range(1, 6))
