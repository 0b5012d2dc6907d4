"""The favicon: served by the project itself, linked from staff and public pages, no 404 in any tab."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_favicon_ico_answers_at_the_site_root() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an icon file, not a page


@pytest.mark.parametrize("page", ["/accounts/login/", "/report/"])
def test_staff_and_public_pages_link_the_icons_and_both_load(page: str) -> None:
    client = Client()
    html = client.get(page).content.decode()
    links = dict(re.findall(r'<link rel="icon" href="([^"]+)"[^>]*?(?:type="([^"]+)")?>', html))
    assert "/favicon.ico" in links
    [svg] = [href for href, kind in links.items() if kind == "image/svg+xml"]
    response = client.get(svg)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"<svg" in body
