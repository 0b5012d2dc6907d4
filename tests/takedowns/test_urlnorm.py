"""The address a request stores (clean_url) and the key that finds duplicates (url_key)."""

from __future__ import annotations

import pytest

from takedowns.urlnorm import BadUrl, clean_url, url_key


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("instagram.com/p/ABC/", "https://instagram.com/p/ABC/"),
        ("  www.example.com/a?b=1  ", "https://www.example.com/a?b=1"),
        ("//example.com/x", "https://example.com/x"),
        ("HTTPS://WWW.Example.COM:443/Path?Q=1#frag", "https://www.example.com/Path?Q=1"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("example.com:8080/a", "https://example.com:8080/a"),
        ("http://localhost:8000/a", "http://localhost:8000/a"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("<https://example.com/quoted>", "https://example.com/quoted"),
    ],
)
def test_clean_url_adds_a_scheme_and_keeps_the_address_as_given(raw: str, stored: str) -> None:
    assert clean_url(raw) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("javascript:alert(1)", "scheme"),
        ("mailto:abuse@example.com", "scheme"),
        ("ftp://example.com/file", "scheme"),
        ("data:text/html,hi", "scheme"),
        ("just some words", "not_url"),
        ("hello", "not_url"),
        ("", "empty"),
        ("https://user:pw@example.com/", "not_url"),
        ("https://example.com/" + "a" * 2000, "too_long"),
    ],
)
def test_clean_url_refuses_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(BadUrl) as caught:
        clean_url(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # scheme and host case, default port, fragment
        ("HTTP://Example.COM:80/page#top", "http://example.com/page"),
        ("https://example.com:443/page", "https://example.com/page"),
        # tracking parameters of every common kind go; the order of the rest does not matter
        ("https://example.com/v?id=7&utm_source=x&utm_medium=y&fbclid=1", "https://example.com/v?id=7"),
        ("https://example.com/v?gclid=2&id=7&igshid=3&si=4&ref_src=twsrc", "https://example.com/v?id=7"),
        ("https://example.com/v?b=2&a=1", "https://example.com/v?a=1&b=2"),
        # schemeless, as pasted from an app
        ("instagram.com/p/ABC", "https://www.instagram.com/p/ABC/"),
        # known platforms' own aliases
        ("https://m.instagram.com/p/ABC/?igsh=xyz", "https://instagram.com/p/ABC"),
        ("https://mobile.twitter.com/someone/status/123?s=20&t=abc", "https://x.com/other/status/123"),
        ("https://twitter.com/a/status/123", "https://x.com/i/status/123"),
        ("https://youtu.be/dQw4w9WgXcQ?si=share", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share"),
        ("https://m.youtube.com/shorts/dQw4w9WgXcQ", "https://youtube.com/watch?v=dQw4w9WgXcQ"),
        ("http://www.facebook.com/photo/?fbid=1&mibextid=x", "https://m.facebook.com/photo?fbid=1&mibextid=x"),
        # percent-encoding spelled two ways
        ("https://example.com/a%7Eb", "https://example.com/a~b"),
    ],
)
def test_the_same_page_has_one_key(a: str, b: str) -> None:
    assert url_key(a) == url_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/v?id=7", "https://example.com/v?id=8"),
        ("http://example.com/page", "https://example.com/page"),  # unknown site: the scheme may matter
        ("https://www.example.com/x", "https://example.com/x"),  # unknown site: www. may be another site
        ("https://example.com/Path", "https://example.com/path"),  # paths are case-sensitive
        ("https://youtube.com/watch?v=one", "https://youtube.com/watch?v=two"),
        ("http://127.0.0.1:8001/p", "http://127.0.0.1:8002/p"),
    ],
)
def test_different_pages_keep_different_keys(a: str, b: str) -> None:
    assert url_key(a) != url_key(b)


@pytest.mark.django_db
def test_the_api_stores_the_cleaned_address_and_finds_the_same_page_spelled_another_way(caseworker, api_for) -> None:
    """What a caseworker's program sees: the address as stored, a refusal that says why, and the
    same page in another spelling answered as a duplicate, not made twice."""
    from takedowns.models import TakedownRequest
    from tests.takedowns.conftest import consenting_case

    case = consenting_case(caseworker)
    api = api_for(caseworker)
    made = api.post("/api/v1/takedowns/", {"case": case.pk, "url": "  instagram.com/p/ABC/  "}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["url"] == "https://instagram.com/p/ABC/"
    again = api.post("/api/v1/takedowns/", {"case": case.pk, "url": "https://m.instagram.com/p/ABC/?igsh=xyz"}, format="json")
    assert again.status_code == 409, again.content
    refused = api.post("/api/v1/takedowns/", {"case": case.pk, "url": "javascript:alert(1)"}, format="json")
    assert refused.status_code == 400
    assert "javascript:alert(1)" in str(refused.json())
    assert TakedownRequest.objects.filter(case=case).count() == 1
