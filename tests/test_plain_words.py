"""No raw code where a person reads: every page a person opens, in English and in Korean, is
searched for the codes the system stores (statuses, channels, language codes, roles, audit
actions) shown as they are instead of in words.

The pages are filled with one of everything (a case with requests in every state, a duplicate,
a page gone before its notice, a routed report with messages, evidence, an e-mail and an API
platform), so a template that prints `{{ x.status }}` instead of its label is caught wherever it is.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from core import audit_words
from takedowns import services as takedown_services
from takedowns.models import RequestStatus, TakedownRequest
from tests import factories
from tests.pagetext import visible_text

pytestmark = pytest.mark.django_db


# Stored codes that an English sentence never writes in lower case on its own. (Any snake_case
# word and any audit action is a code too.)
CODES = {"draft", "queued", "inconclusive", "api", "email", "ko", "en", "zh", "ja", "deepfake"}
# Codes that are also English words: a code on a Korean page, where no English word belongs.
CODES_KO = CODES | {
    "acknowledged", "reappeared", "unavailable", "removed", "sent", "failed", "rejected", "caseworker",
    "supervisor", "auditor", "analyst", "admin", "manual", "open", "new", "monitoring", "closed", "urgent", "normal",
    "high", "received", "pending", "delivered", "initial", "resend", "escalation", "image", "video",
}  # fmt: skip
URLISH = re.compile(r"\S+\.(example|invalid)\S*|https?://\S+|\S+@\S+|/\S+")


def codes_in(text: str, language: str) -> set[str]:
    text = URLISH.sub(" ", text)
    words = set(re.findall(r"\b[a-z][a-z_]*(?:\.[a-z_]+)?\b", text))
    codes = CODES_KO if language == "ko" else CODES
    found = {w for w in words if w in codes or w in audit_words.ACTIONS}
    found |= {w for w in words if "_" in w}
    return found


@pytest.fixture
def world(central, region):
    """One of everything, with names that carry no underscore (so any snake_case is a code)."""
    from cases import intake
    from takedowns.services import platform_create

    worker = factories.make_user("caseworker", central, username="minsu")
    supervisor = factories.make_user("supervisor", central, username="jiwoo")
    api = platform_create(
        acting_user=None, name="Videoland", domains=["video.example"], channel="api", endpoint="https://notices.video.example/v1",
        secret="s", jurisdiction="KR", notice_language="ko",
    )  # fmt: skip
    platform_create(acting_user=None, name="Mailhost", domains=["mail.example"], channel="email", email="abuse@mail.example")
    case = factories.make_case(
        worker, consent={"takedown": True, "hash_sharing": True}, victim={"pseudonym": "Heron", "language": "ko"}
    )
    case.assigned_to = worker
    case.save(update_fields=["assigned_to"])
    states = [RequestStatus.DRAFT, RequestStatus.QUEUED, RequestStatus.SENT, RequestStatus.ACKNOWLEDGED, RequestStatus.REMOVED,
              RequestStatus.REJECTED, RequestStatus.FAILED, RequestStatus.REAPPEARED, "unavailable"]  # fmt: skip
    requests = []
    for i, status in enumerate(states):
        request = takedown_services.takedown_create(case=case, url=f"https://video.example/v/{i}", acting_user=worker)
        TakedownRequest.objects.filter(pk=request.pk).update(status=status)
        requests.append(request)
    takedown_services.takedown_create(case=case, url="https://mail.example/p/1", acting_user=worker)
    report, _receipt = intake.intake_submit(
        intake.IntakeInput(description="Please help", urls=("https://video.example/v/99",), language="ko", centre=central.code)
    )
    intake.intake_reply(report=report, text="Any news?")
    intake.intake_staff_message(report=report, text="We are on it.", acting_user=worker)
    return {"worker": worker, "supervisor": supervisor, "case": case, "requests": requests, "report": report, "platform": api}


def _pages(world) -> dict[str, list[str]]:
    case, request, report = world["case"], world["requests"][2], world["report"]
    staff = ["/work/", "/cases/", f"/cases/{case.pk}/", "/takedowns/", f"/takedowns/{request.pk}/", "/takedowns/manual/",
             "/intake/", f"/intake/{report.pk}/"]  # fmt: skip
    return {
        "worker": staff,
        "supervisor": [
            *staff,
            "/cases/deletion-requests/",
            "/cases/retention/",
            "/compliance/",
            "/compliance/workload/",
            f"/compliance/platform/{world['platform'].pk}/report/",
        ],
        "auditor": ["/audit/"],
        "admin": ["/staff/users/", "/ops/failed/"],
    }


@pytest.mark.parametrize("language", ["en", "ko"])
def test_staff_pages_show_words_not_codes(world, central, client_for, language) -> None:
    users = {"worker": world["worker"], "supervisor": world["supervisor"],
             "auditor": factories.make_user("auditor", central, username="seoyeon"),
             "admin": factories.make_user("admin", central, username="hyejin")}  # fmt: skip
    problems = {}
    for who, paths in _pages(world).items():
        client = client_for(users[who])
        client.post("/i18n/setlang/", {"language": language, "next": "/"})
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (who, path, response.status_code)
            found = codes_in(visible_text(response.content.decode()), language)
            if found:
                problems[f"{who} {path}"] = sorted(found)
    assert not problems, problems


@pytest.mark.parametrize("language", ["en", "ko"])
def test_public_pages_show_words_not_codes(world, language) -> None:
    client = Client()
    problems = {}
    for path in ("/", "/report/", "/report/status/", "/transparency/"):
        response = client.get(path, {"lang": language})
        assert response.status_code == 200, path
        found = codes_in(visible_text(response.content.decode()), language)
        if found:
            problems[path] = sorted(found)
    assert not problems, problems
