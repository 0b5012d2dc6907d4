"""Who may grant a download of originals, to whom, for how long, and what a download needs; pinned
where mutation testing (`make mutate`) found evidence/services.py loose.

Threat: a grant opens a victim's originals to the wrong person (another centre, a role that does
not handle cases) or for longer than allowed, or a download goes through without a stated reason,
and the custody log and the audit chain do not say who, why and for how long.
Control: evidence.services.download_grant_create (a supervisor of the case's centre, to a
caseworker or supervisor of that centre, 1 to 72 hours) and evidence_download (may_download, a
fresh code, a reason of five characters or more, recorded in custody and audit).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from core.errors import PermissionDenied, ServiceError
from core.models import AuditEvent
from core.roles import Role
from evidence import services
from evidence.models import CustodyEvent, DownloadGrant, Evidence
from tests import factories

pytestmark = pytest.mark.django_db


def _grant(case, user, acting_user, hours: int = 24, reason: str = "Court filing tomorrow"):
    return services.download_grant_create(case=case, user=user, reason=reason, hours=hours, acting_user=acting_user)


def test_only_a_supervisor_of_the_case_grants(caseworker, caseworker_b, supervisor, other_supervisor):
    case = factories.make_case(caseworker)
    for acting in (caseworker_b, other_supervisor):
        with pytest.raises(PermissionDenied) as caught:
            _grant(case, caseworker, acting)
        assert caught.value.message == "Only a supervisor of the case's centre grants downloads."
    assert not DownloadGrant.objects.exists()


def test_grants_go_only_to_case_staff_of_the_centre(central, region, caseworker, supervisor):
    case = factories.make_case(caseworker)
    for outsider in (factories.make_user("caseworker", region), factories.make_user(Role.AUDITOR, central)):
        with pytest.raises(ServiceError) as caught:
            _grant(case, outsider, supervisor)
        assert (caught.value.message, caught.value.field) == (
            "Downloads can be granted only to caseworkers of the same centre.",
            "user",
        )
    assert _grant(case, factories.make_user("supervisor", central), supervisor).user.role == Role.SUPERVISOR


def test_a_grant_lasts_one_to_seventy_two_hours(caseworker, supervisor):
    case = factories.make_case(caseworker)
    for hours in (0, 73):
        with pytest.raises(ServiceError) as caught:
            _grant(case, caseworker, supervisor, hours=hours)
        assert (caught.value.message, caught.value.field) == ("A grant lasts between 1 and 72 hours.", "hours")
    for hours in (1, 72):
        before = timezone.now()
        grant = _grant(case, caseworker, supervisor, hours=hours, reason="x" * 1200)
        assert before + timedelta(hours=hours) <= grant.expires_at <= timezone.now() + timedelta(hours=hours)
        assert (grant.granted_by, grant.case, grant.reason) == (supervisor, case, "x" * 1000)
    event = AuditEvent.objects.filter(action="evidence.download_grant").latest("id")
    assert (event.actor_id, event.object_id, event.details) == (supervisor.pk, str(case.pk), {"user": caseworker.pk, "hours": 72})


def _item(case, user) -> Evidence:
    return Evidence.objects.create(
        case=case, created_by=user, sha256="0" * 64, size=1, media_type="image/png", kind="image",
        storage_key=f"mut-{case.pk}", wrapped_key="x", key_id="k",
    )  # fmt: skip


def test_a_download_needs_the_right_a_fresh_code_and_a_reason(caseworker, supervisor):
    case = factories.make_case(caseworker)
    item = _item(case, caseworker)
    with pytest.raises(PermissionDenied) as caught:
        services.evidence_download(evidence=item, acting_user=caseworker, reason="For the court", recently_verified=True)
    assert caught.value.message == "Downloading originals needs the supervisor role or a supervisor's grant."
    with pytest.raises(PermissionDenied) as caught:
        services.evidence_download(evidence=item, acting_user=supervisor, reason="For the court", recently_verified=False)
    assert caught.value.message == "Enter a fresh authenticator code before downloading an original."
    with pytest.raises(ServiceError) as caught:
        services.evidence_download(evidence=item, acting_user=supervisor, reason="  abcd  ", recently_verified=True)
    assert (caught.value.message, caught.value.field) == ("Say why you need the original.", "reason")
    assert not CustodyEvent.objects.filter(evidence=item).exists()
    services.evidence_download(evidence=item, acting_user=supervisor, reason="  Court  ", recently_verified=True)
    custody = CustodyEvent.objects.filter(evidence=item).get()
    assert (custody.action, custody.actor, custody.reason) == ("download", supervisor, "Court")
    event = AuditEvent.objects.filter(action="evidence.download").latest("id")
    assert (event.actor_id, event.object_id, event.centre_id, event.details) == (
        supervisor.pk,
        str(item.pk),
        case.centre_id,
        {"reason": "Court"},
    )


def test_an_export_takes_only_chosen_items_of_this_case(caseworker, supervisor):
    case = factories.make_case(caseworker)
    other = _item(factories.make_case(caseworker), caseworker)
    with pytest.raises(ServiceError) as caught:
        services.evidence_export(case=case, items=[], acting_user=supervisor, reason="For the court", recently_verified=True)
    assert caught.value.message == "Choose at least one item to export."
    with pytest.raises(ServiceError) as caught:
        services.evidence_export(case=case, items=[other], acting_user=supervisor, reason="For the court", recently_verified=True)
    assert caught.value.message == "Every item must belong to this case."
    assert not CustodyEvent.objects.exists()


def test_seeing_a_preview_unblurred_needs_a_reason(caseworker):
    item = _item(factories.make_case(caseworker), caseworker)
    with pytest.raises(ServiceError) as caught:
        services.evidence_reveal(evidence=item, acting_user=caseworker, reason=" why ")
    assert (caught.value.message, caught.value.field) == ("Say why you need to see it unblurred.", "reason")
    services.evidence_reveal(evidence=item, acting_user=caseworker, reason="Checking the face matches")
    assert CustodyEvent.objects.filter(evidence=item, action="reveal").get().reason == "Checking the face matches"


def test_each_export_refusal_says_why(caseworker, supervisor):
    case = factories.make_case(caseworker)
    item = _item(case, caseworker)
    refusals = [
        (caseworker, "For the court", True, "Exporting originals needs the supervisor role or a supervisor's grant.", None),
        (supervisor, "For the court", False, "Enter a fresh authenticator code before exporting.", None),
        (supervisor, "  abcd  ", True, "Say who the export is for and why.", "reason"),
    ]
    for user, reason, fresh, message, field in refusals:
        with pytest.raises(ServiceError) as caught:
            services.evidence_export(case=case, items=[item], acting_user=user, reason=reason, recently_verified=fresh)
        assert (caught.value.message, caught.value.field) == (message, field)
    assert not CustodyEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_export_records_who_why_and_each_item_and_the_package_says_the_same(caseworker, supervisor, tmp_path):
    """The success path with real stored files: one custody entry per exported item (who, why),
    one audit event naming the items and the reason, and a package whose manifest carries the
    case, the person and the reason and whose originals are the stored bytes."""
    import json
    import zipfile

    from evidence.export import verify_package
    from tests.evidence.helpers import add_image

    case = factories.make_case(caseworker)
    first = add_image(case, caseworker, tmp_path, seed=31)
    second = add_image(case, caseworker, tmp_path, seed=32, fmt="PNG", name="second.png")
    add_image(case, caseworker, tmp_path, seed=33, name="not-chosen.jpg")
    reason = "  Requested by the Seoul police, case 2026-77  "
    path = services.evidence_export(
        case=case, items=[first, second], acting_user=supervisor, reason=reason, recently_verified=True
    )
    try:
        assert verify_package(path).ok
        with zipfile.ZipFile(path) as package:
            manifest = json.loads(package.read("manifest.json"))
            originals = [n for n in package.namelist() if n.startswith("originals/")]
        assert (manifest["case"], manifest["exported_by"], manifest["reason"]) == (
            case.reference, supervisor.username, reason.strip(),
        )  # fmt: skip
        assert sorted(i["sha256"] for i in manifest["items"]) == sorted([first.sha256, second.sha256])
        assert len(originals) == 2
    finally:
        path.unlink(missing_ok=True)
    exports = CustodyEvent.objects.filter(action="export").order_by("evidence_id")
    assert [(c.evidence_id, c.actor_id, c.reason) for c in exports] == [
        (first.pk, supervisor.pk, reason.strip()), (second.pk, supervisor.pk, reason.strip()),
    ]  # fmt: skip
    event = AuditEvent.objects.get(action="evidence.export")
    assert (event.actor_id, event.object_type, event.object_id) == (supervisor.pk, "cases.case", str(case.pk))
    assert event.details == {"items": [first.pk, second.pk], "reason": reason.strip()}


def test_an_export_reason_of_five_characters_is_enough(caseworker, supervisor, monkeypatch):
    """The same bar as a download's reason: five characters after trimming ("Court" is enough)."""
    import evidence.export

    case = factories.make_case(caseworker)
    item = _item(case, caseworker)
    built: list[str] = []
    monkeypatch.setattr(evidence.export, "build_package", lambda **kw: built.append(kw["reason"]) or Path("/nonexistent"))
    services.evidence_export(case=case, items=[item], acting_user=supervisor, reason="  Court ", recently_verified=True)
    assert built == ["Court"]
    with pytest.raises(ServiceError):
        services.evidence_export(case=case, items=[item], acting_user=supervisor, reason=" Cour ", recently_verified=True)
    assert built == ["Court"]
