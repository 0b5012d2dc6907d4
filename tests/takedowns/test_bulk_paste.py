"""Bulk paste: addresses without a scheme are taken, every refused line is listed with its reason,
and the result stays on the case page until the caseworker dismisses it."""

from __future__ import annotations

import re

import pytest

from takedowns import services
from takedowns.models import TakedownRequest
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db

PASTE = "\n".join(
    [
        "http://127.0.0.1/post/1",  # 1
        "",  # 2: blank, skipped without a word
        "   127.0.0.1/post/2   ",  # 3: spaces and no scheme
        "instagram.com/p/ABC123/",  # 4: no scheme
        "javascript:alert(document.cookie)",  # 5
        "http://127.0.0.1/post/1#comments",  # 6: the same as line 1
        "please take these down quickly",  # 7: text
        "ftp://127.0.0.1/file",  # 8
        "https://127.0.0.1/" + "x" * 2100,  # 9
        "\t",  # 10: blank
        "http://127.0.0.1/already",  # 11: already in the case
        "see https://127.0.0.1/post/3 (the video)",  # 12: an address inside a sentence
    ]
)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_parse_and_create_list_every_refused_line(caseworker, sim_platform) -> None:
    case = consenting_case(caseworker)
    services.takedown_create(case=case, url="http://127.0.0.1/already", acting_user=caseworker)
    pasted = services.parse_pasted(PASTE)
    result = services.takedown_bulk_create(case=case, urls=pasted, acting_user=caseworker)
    assert sorted(r.url for r in result.created) == [
        "http://127.0.0.1/post/1", "https://127.0.0.1/post/2", "https://127.0.0.1/post/3", "https://instagram.com/p/ABC123/",
    ]  # fmt: skip
    assert [(r.line, r.reason) for r in result.refused] == [
        (5, "scheme"), (6, "repeated"), (7, "not_url"), (8, "scheme"), (9, "too_long"), (11, "in_case"),
    ]  # fmt: skip
    assert TakedownRequest.objects.filter(case=case).count() == 5


def test_the_page_shows_each_refusal_until_dismissed(caseworker, sim_platform, client_for) -> None:
    case = consenting_case(caseworker)
    services.takedown_create(case=case, url="http://127.0.0.1/already", acting_user=caseworker)
    page = client_for(caseworker)
    response = page.post(f"/takedowns/case/{case.pk}/bulk/", {"bulk-urls": PASTE}, follow=True)
    shown = _text(response.content.decode())
    assert "4 drafts created." in shown
    assert "6 lines were not used:" in shown
    assert "5 javascript:alert(document.cookie) only http and https addresses are accepted" in shown
    assert "6 http://127.0.0.1/post/1#comments the same address as an earlier line" in shown
    assert "7 please take these down quickly not a web address" in shown
    assert "8 ftp://127.0.0.1/file only http and https addresses are accepted" in shown
    assert "longer than 2,000 characters" in shown
    assert "11 http://127.0.0.1/already already requested in this case" in shown
    # Still there on the next page views (not a message that one page swallows) ...
    for _ in range(2):
        assert "6 lines were not used:" in _text(page.get(f"/cases/{case.pk}/").content.decode())
    # ... until dismissed.
    page.post(f"/takedowns/case/{case.pk}/bulk/dismiss/")
    assert "lines were not used" not in page.get(f"/cases/{case.pk}/").content.decode()


def test_the_result_belongs_to_its_case(caseworker, sim_platform, client_for) -> None:
    first = consenting_case(caseworker)
    second = consenting_case(caseworker)
    page = client_for(caseworker)
    page.post(f"/takedowns/case/{first.pk}/bulk/", {"bulk-urls": "nonsense line"})
    assert "1 line was not used:" in _text(page.get(f"/cases/{first.pk}/").content.decode())
    assert "not used" not in page.get(f"/cases/{second.pk}/").content.decode()


def test_json_answer_lists_refusals_with_reasons(caseworker, sim_platform, client_for) -> None:
    case = consenting_case(caseworker)
    response = client_for(caseworker).post(
        f"/takedowns/case/{case.pk}/bulk/", {"bulk-urls": "example.org/a\nvbscript:x\nexample.org/a"},
        HTTP_ACCEPT="application/json",
    )  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 1
    assert body["refused"] == [
        {"line": 2, "text": "vbscript:x", "reason": "only http and https addresses are accepted"},
        {"line": 3, "text": "example.org/a", "reason": "the same address as an earlier line"},
    ]


def test_other_centres_cannot_paste_into_the_case(caseworker, other_supervisor, client_for) -> None:
    case = consenting_case(caseworker)
    assert (
        client_for(other_supervisor).post(f"/takedowns/case/{case.pk}/bulk/", {"bulk-urls": "example.org/a"}).status_code == 404
    )
    assert client_for(other_supervisor).post(f"/takedowns/case/{case.pk}/bulk/dismiss/").status_code == 404
    assert not TakedownRequest.objects.filter(case=case).exists()
