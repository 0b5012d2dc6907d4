"""The audit log page as an auditor reads it: actions in words, links to each record's history
and each person's events, and the chain check run from the page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

from core import audit_words
from core.models import AuditEvent
from tests import factories
from tests.pagetext import visible_text

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(central):
    return factories.make_user("auditor", central, username="auditor_a")


def test_actions_and_records_are_words_not_codes(central, caseworker, auditor, client_for) -> None:
    case = factories.make_case(caseworker)
    html = client_for(auditor).get("/audit/").content.decode()
    text = visible_text(html)
    assert "Case opened" in text
    assert "Staff account created" in text
    # No code where a person reads: actions, roles and record types are words.
    for code in ("case.create", "user.create", "cases.case", "caseworker "):
        assert code not in text, code
    assert "Caseworker" in text
    # The record links to its history in the log (auditors see no case page).
    assert f'href="?object_type=cases.case&amp;object_id={case.pk}"' in html


def test_record_link_shows_that_records_history_and_actor_link_that_persons(central, caseworker, auditor, client_for) -> None:
    case = factories.make_case(caseworker)
    other = factories.make_case(caseworker)
    client = client_for(auditor)
    history = client.get("/audit/", {"object_type": "cases.case", "object_id": str(case.pk)})
    ids = {e.object_id for e in history.context["page"]}
    assert ids == {str(case.pk)}
    assert str(other.pk) not in ids
    by_person = client.get("/audit/", {"actor": caseworker.username})
    assert {e.actor_username for e in by_person.context["page"]} == {caseworker.username}


def test_filter_by_subject_or_single_action(central, caseworker, auditor, client_for) -> None:
    factories.make_case(caseworker)
    client = client_for(auditor)
    one = client.get("/audit/", {"action": "case.create"})
    assert {e.action for e in one.context["page"]} == {"case.create"}
    subject = client.get("/audit/", {"action": "case."})
    assert {e.action for e in subject.context["page"]} <= {a for a in audit_words.ACTIONS if a.startswith("case.")}
    assert subject.context["page"].paginator.count >= 1
    # The filter offers words; the codes stay in the option values.
    assert re.search(r'<option value="case.create"( selected)?>Case opened</option>', one.content.decode())


def test_korean_auditor_reads_korean(central, caseworker, auditor, client_for) -> None:
    factories.make_case(caseworker)
    client = client_for(auditor)
    client.post("/i18n/setlang/", {"language": "ko", "next": "/audit/"})
    html = client.get("/audit/").content.decode()
    with translation.override("ko"):
        expected = str(audit_words.ACTIONS["case.create"])
    assert expected != "Case opened"
    assert expected in visible_text(html)


def test_check_now_hands_the_check_to_a_worker_and_says_so(
    central, caseworker, auditor, client_for, django_capture_on_commit_callbacks
) -> None:
    factories.make_case(caseworker)
    client = client_for(auditor)
    assert "The chain has not been checked yet." in visible_text(client.get("/audit/").content.decode())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/audit/", follow=True)
    assert len(callbacks) == 1  # the wake-up for the worker, sent after the commit
    text = visible_text(response.content.decode())
    assert "The check has started." in text
    assert f"A check asked for by {auditor.username} is running" in text


def test_only_auditors_see_or_run_it(central, caseworker, client_for) -> None:
    for role in ("caseworker", "supervisor", "analyst", "admin"):
        user = factories.make_user(role, central)
        client = client_for(user)
        assert client.get("/audit/").status_code == 404
        assert client.post("/audit/").status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="audit.chain").exists()


def _actions_in_code() -> set[str]:
    """Every literal action passed to the audit writer anywhere in the code."""
    found: set[str] = set()
    for folder in ("cases", "core", "evidence", "takedowns", "config"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name not in ("record", "record_now"):
                    continue
                first = node.args[0]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and re.fullmatch(r"[a-z_]+\.[a-z_]+", first.value)
                ):
                    found.add(first.value)
                elif isinstance(first, ast.IfExp):
                    found.update(
                        v.value for v in (first.body, first.orelse) if isinstance(v, ast.Constant) and isinstance(v.value, str)
                    )
    return found


def test_every_action_the_code_writes_has_words() -> None:
    actions = _actions_in_code()
    assert len(actions) > 40
    missing = sorted(a for a in actions if a not in audit_words.ACTIONS)
    assert not missing, missing


def test_an_unknown_action_is_still_words() -> None:
    assert audit_words.describe_action("takedown.something_new") == "Takedown request: Something new"
    assert audit_words.describe_action("zzz.thing") == "Zzz: Thing"
