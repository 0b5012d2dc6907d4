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
