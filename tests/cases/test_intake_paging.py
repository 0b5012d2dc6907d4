"""GET /api/v1/intake/reports/ pages through every report a person may see: the answer stays a
plain JSON list, newest first; ?limit= and ?before=<id> page it, and a Link header leads on."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from cases import intake
from cases.models import IntakeReport
from tests import factories

pytestmark = pytest.mark.django_db


def _report(centre: str = "", text: str = "Photos of me were posted.") -> IntakeReport:
    report, _receipt = intake.intake_submit(intake.IntakeInput(description=text, centre=centre))
    return report


def _next_link(response) -> str | None:
    found = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return found.group(1) if found else None


def _walk(api: APIClient, first: str) -> tuple[list[list[str]], list[str]]:
    """Follows the Link headers from the first page to the last: (ids per page, links followed)."""
    pages: list[list[str]] = []
    links: list[str] = []
    url: str | None = first
    while url is not None:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert isinstance(body, list)  # the contract's shape: a list, never wrapped in an object
        pages.append([r["id"] for r in body])
        url = _next_link(response)
        if url is not None:
            links.append(url)
        assert len(pages) < 50, "the Link headers never end"
    return pages, links


def test_paging_with_limit_2_reaches_every_report_once_and_no_other_centres(central, region, api_for) -> None:
    busan_sup = factories.make_user("supervisor", region, username="busan_paging_sup")
    busan_cw = factories.make_user("caseworker", region, username="busan_paging_cw")
    mine = [_report("busan", f"busan report {i}") for i in range(5)]
    others = [_report("", "unrouted, the triage centre's"), _report("central", "central's")]
    # A report of Busan's that became a case: still the supervisor's (the case is in Busan).
    with_case = _report("busan", "becomes a case")
    intake.intake_open_case(report=with_case, acting_user=busan_cw, pseudonym="P", category="deepfake")
    mine.append(with_case)
    others.append(_report("busan", "routed away later"))  # routed to the central centre below
    intake.intake_route(report=others[-1], centre=central, acting_user=busan_sup)

    api = api_for(busan_sup)
    pages, links = _walk(api, "/api/v1/intake/reports/?limit=2")
    seen = [pk for page in pages for pk in page]
    expected = [str(r.pk) for r in sorted(mine, key=lambda r: r.pk, reverse=True)]
    assert all(len(page) <= 2 for page in pages)
    assert len(pages) == 3 and all(page for page in pages)  # 6 reports: three full pages, no empty fourth
    assert seen == expected  # newest first, none twice, none missing
    assert not {str(r.pk) for r in others} & set(seen)
    assert all("limit=2" in link and "before=" in link and link.startswith("http") for link in links)

    # Without parameters: one page (default 100), the same order, and no Link.
    whole = api.get("/api/v1/intake/reports/")
    assert [r["id"] for r in whole.json()] == expected and "Link" not in whole.headers

    # Another centre's supervisor walking the same way never meets Busan's reports.
    central_sup = factories.make_user("supervisor", central, username="central_paging_sup")
    central_pages, _links = _walk(api_for(central_sup), "/api/v1/intake/reports/?limit=2")
    assert {pk for page in central_pages for pk in page} == {str(r.pk) for r in others}


def test_the_cursor_stays_exact_when_reports_arrive_or_leave_between_pages(region, central, api_for) -> None:
    busan_sup = factories.make_user("supervisor", region, username="busan_cursor_sup")
    reports = [_report("busan", f"r{i}") for i in range(4)]
    api = api_for(busan_sup)
    first = api.get("/api/v1/intake/reports/?limit=2")
    assert [r["id"] for r in first.json()] == [str(reports[3].pk), str(reports[2].pk)]
    _report("busan", "arrives after the first page")  # newer: belongs before page one, not in page two
    intake.intake_route(report=reports[2], centre=central, acting_user=busan_sup)  # the cursor's own report leaves
    second = api.get(_next_link(first))
    assert [r["id"] for r in second.json()] == [str(reports[1].pk), str(reports[0].pk)]
    assert "Link" not in second.headers


def test_bad_paging_parameters_get_a_clear_error_and_a_large_limit_is_capped(region, api_for) -> None:
    busan_sup = factories.make_user("supervisor", region, username="busan_bad_paging")
    api = api_for(busan_sup)
    for query in ("limit=0", "limit=two", "before=abc", "before=-3"):
        response = api.get(f"/api/v1/intake/reports/?{query}")
        assert response.status_code == 400, query
        assert "not valid" in response.json()["detail"]
    _report("busan")
    assert len(api.get("/api/v1/intake/reports/?limit=100000").json()) == 1


def test_the_schema_shows_the_paging_parameters(caseworker, api_for) -> None:
    import yaml

    schema = yaml.safe_load(api_for(caseworker).get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/intake/reports/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"before", "limit"} <= names
    assert "Link" in operation["responses"]["200"]["headers"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
