"""Every page in Korean and English; the compiled catalogue matches its source."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.test import Client

from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def test_korean_catalogue_is_complete_and_compiled() -> None:
    po = polib.pofile(str(ROOT / "locale/ko/LC_MESSAGES/django.po"))
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()][:10]
    assert not po.fuzzy_entries()
    mo = polib.mofile(str(ROOT / "locale/ko/LC_MESSAGES/django.mo"))
    # Keyed by (context, msgid): the same English word can need different Korean in two places.
    assert {(e.msgctxt, e.msgid): e.msgstr for e in mo if e.msgstr} == {
        (e.msgctxt, e.msgid): e.msgstr for e in po.translated_entries() if e.msgstr
    }


GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
SOURCE_DIRS = ("cases", "core", "evidence", "takedowns", "config", "hashing")


def _strings_in_code() -> set[tuple[str | None, str]]:
    """(context, msgid) of every literal passed to a gettext function in Python and of every
    {% translate "..." %} in the templates: what makemessages would extract, found without gettext,
    so a catalogue that missed a run of makemessages (or whose run failed) is caught here."""
    import ast
    import re

    found: set[tuple[str | None, str]] = set()
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name not in GETTEXT_CALLS:
                    continue
                strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if name.startswith("pgettext") and len(strings) >= 2:
                    found.add((strings[0], strings[1]))
                elif strings and isinstance(node.args[0], ast.Constant):
                    found.add((None, strings[0]))
    pattern = re.compile(r"""{%\s*(?:translate|trans)\s+(["'])(.+?)\1(?:\s+context\s+(["'])(.+?)\3)?[^%]*%}""")
    for path in (ROOT / "templates").rglob("*.html"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            found.add((match.group(4), match.group(2)))
    return found


def test_every_string_in_the_code_is_in_the_korean_catalogue() -> None:
    po = polib.pofile(str(ROOT / "locale/ko/LC_MESSAGES/django.po"))
    translated = {(e.msgctxt, e.msgid) for e in po.translated_entries()}
    code = _strings_in_code()
    assert len(code) > 500  # the scan itself works
    missing = sorted(msgid for key in code - translated for msgid in [key[1]])
    assert not missing, f"{len(missing)} strings not in locale/ko (run `make messages` and translate): {missing[:10]}"


@pytest.mark.django_db
def test_pages_follow_the_chosen_language(caseworker, client_for) -> None:
    factories.make_case(caseworker)
    client = client_for(caseworker)
    client.post("/i18n/setlang/", {"language": "ko", "next": "/cases/"})
    html = client.get("/cases/").content.decode()
    assert 'lang="ko"' in html
    assert "사건" in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/cases/"})
    html = client.get("/cases/").content.decode()
    assert 'lang="en"' in html
    assert "Cases" in html


@pytest.mark.django_db
def test_default_language_is_korean_for_a_new_visitor(settings) -> None:
    settings.LANGUAGE_CODE = "ko"
    html = Client().get("/accounts/login/").content.decode()
    assert "직원 로그인" in html


@pytest.mark.django_db
def test_times_are_shown_in_seoul(caseworker, client_for) -> None:
    from datetime import UTC, datetime

    from cases.models import Case

    case = factories.make_case(caseworker)
    Case.objects.filter(pk=case.pk).update(created_at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    html = client_for(caseworker).get(f"/cases/{case.pk}/").content.decode()
    assert "2026-03-02 00:30" in html  # 15:30 UTC is 00:30 the next day in Seoul
