"""Opening a case from a report carries every answer the reporter gave, seen through the API and
on the case page; the public landing page; the form's error summary."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client

from cases.models import IntakeReport
from evidence.models import Evidence
from tests import factories, media
from tests.evidence.conftest import clean_evidence_root  # noqa: F401 - an autouse fixture: each test starts with an empty locker


def _every_field(**overrides: str) -> dict:
    picture = io.BytesIO(media.image_bytes("JPEG", seed=611))
    picture.name = "screenshot.jpg"
    return {
        "lang": "en",
        "description": "A deepfake of me is passed around a chat room.",
        "urls": "https://chat.example/room/1\nhttps://video.example/v/2",
        "reporter_role": "helper",
        "is_minor": "",  # I'd rather not say
        "is_spreading": "on",
        "threatened": "on",
        "centre": "busan",
        "consent_takedown": "on",
        "consent_hash_sharing": "on",
        "consent_police_referral": "on",
        "consent_legal_support": "on",
        "contact_name": "Kim Min-ji",
        "contact_email": "minji@example.org",
        "contact_phone": "+82 10 1234 5678",
        "contact_channel": "sms",
        "contact_times": "weekdays after 18:00",
        "may_leave_messages": "on",
        "files": [picture],
        **overrides,
    }


@pytest.mark.django_db(transaction=True)
def test_a_case_from_a_report_carries_every_field(region, client_for, api_for) -> None:
    busan = factories.make_user("caseworker", region, username="busan_fields")
    response = Client().post("/report/", _every_field())
    assert 'data-testid="receipt"' in response.content.decode(), response.content.decode()[:2000]
    report = IntakeReport.objects.get()
    assert report.centre == region and report.is_minor is None and report.language == "en"

    opened = api_for(busan).post(f"/api/v1/intake/reports/{report.pk}/case/", {"pseudonym": "Pine", "category": "deepfake"})
    assert opened.status_code == 201
    case_id = opened.json()["id"]
    case = api_for(busan).get(f"/api/v1/cases/{case_id}/").json()
    assert case["reference"] == opened.json()["reference"]
    assert case["priority"] == "urgent" and case["urgent"] is True
    assert case["is_spreading"] is True and case["threatened"] is True
    assert case["victim"] == {"pseudonym": "Pine", "is_minor": None, "language": "en"}  # "rather not say" kept
    assert case["contact"] == {
        "channel": "sms", "safe_times": "weekdays after 18:00", "may_leave_messages": True, "has_email": True, "has_phone": True,
    }  # fmt: skip
    assert case["consent"] == {"takedown": True, "hash_sharing": True, "police_referral": True, "legal_support": True}
    assert case["centre"] == "busan"
    takedowns = api_for(busan).get(f"/api/v1/cases/{case_id}/takedowns/").json()
    assert sorted(t["url"] for t in takedowns) == ["https://chat.example/room/1", "https://video.example/v/2"]
    assert {t["status"] for t in takedowns} == {"draft"}
    assert Evidence.objects.filter(case_id=case_id).count() == 1

    # The identity and contact are on the case, behind the audited reveal.
    from cases.models import Case

    victim = Case.objects.get(pk=case_id).victim
    assert (victim.legal_name, victim.contact_email, victim.contact_phone) == (
        "Kim Min-ji",
        "minji@example.org",
        "+82 10 1234 5678",
    )

    # The case page, in words.
    page = client_for(busan).get(f"/cases/{case_id}/?lang=en", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    def shown(testid: str) -> str:
        return re.search(rf'data-testid="{testid}">([^<]*)<', page).group(1).strip()

    assert shown("case-priority") == "Urgent"
    assert shown("case-minor") == "not known"
    assert shown("case-language") == "English"
    assert shown("case-spreading") == "yes" and shown("case-threatened") == "yes"
    assert shown("case-channel") == "Text message"
    assert shown("case-times") == "weekdays after 18:00"
    assert shown("case-messages-ok") == "yes"
    assert "Someone helping them" in page  # who reported, on the report's panel
    # Another centre's caseworker sees neither the case nor its takedowns.
    other = factories.make_user("caseworker", factories.make_centre(central=True), username="central_fields")
    assert api_for(other).get(f"/api/v1/cases/{case_id}/takedowns/").status_code == 404
    assert api_for(other).get(f"/api/v1/cases/{case_id}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_minor_stays_a_minor_and_the_api_takes_contact_wishes(central, caseworker, api_for) -> None:
    from rest_framework.test import APIClient

    body = {"description": "x", "is_minor": True, "urgent": False, "language": "ko",
            "contact": {"email": "a@example.org", "safe_times": "mornings"}}  # fmt: skip
    receipt = APIClient().post("/api/v1/intake/", body, format="json").json()["receipt"]
    report = IntakeReport.objects.get()
    assert report.urgent  # a minor is always urgent
    assert json.loads(report.contact) == {"email": "a@example.org", "times": "mornings"}
    case_id = api_for(caseworker).post(f"/api/v1/intake/reports/{report.pk}/case/", {}).json()["id"]
    case = api_for(caseworker).get(f"/api/v1/cases/{case_id}/").json()
    assert case["victim"]["is_minor"] is True and case["victim"]["language"] == "ko"
    assert case["contact"]["channel"] == "email" and case["contact"]["safe_times"] == "mornings"
    assert receipt


@pytest.mark.django_db
def test_landing_page_for_visitors_and_staff_go_on(caseworker, client_for) -> None:
    response = Client().get("/?lang=en")
    assert response.status_code == 200
    assert not response.cookies
    page = response.content.decode()
    for href in ('href="/report/?lang=en"', 'href="/report/status/?lang=en"', 'href="/transparency/"', 'href="/accounts/login/"'):
        assert href in page
    assert "Quick exit" in page
    ko = Client().get("/?lang=ko").content.decode()
    assert 'lang="ko"' in ko
    staff = client_for(caseworker).get("/")
    assert staff.status_code == 302  # staff keep going to their own home


@pytest.mark.django_db
def test_the_form_sums_up_its_errors_at_the_top() -> None:
    response = Client().post(
        "/report/", {"lang": "en", "reporter_role": "victim", "contact_email": "not-an-address", "centre": "atlantis"}
    )
    page = response.content.decode()
    summary = page[page.index('id="error-summary"') : page.index("</div>", page.index('id="error-summary"'))]
    assert page.index('id="error-summary"') < page.index("<h1>")
    assert 'tabindex="-1"' in summary
    assert 'href="#id_contact_email"' in summary and 'href="#id_centre"' in summary
    assert "E-mail (optional)" in summary
