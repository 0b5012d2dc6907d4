"""Takedowns at a busy centre, in a real browser, in English and Korean: approving with nothing
selected says so and sends nothing; a pasted address another centre already handles is shown as a
duplicate of "another case"; refused lines stay listed until dismissed; a case with 2,000 requests
is paged and filtered."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

from takedowns import services
from takedowns.models import Notice, TakedownRequest
from tests import factories
from tests.browser.conftest import sign_in
from tests.takedowns.conftest import consenting_case, sim_platform  # noqa: F401 - a fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

LANGUAGES = {"en": "en-GB", "ko": "ko-KR"}


@pytest.fixture(params=["en", "ko"])
def lang(request):
    return request.param


@pytest.fixture
def staff_page(browser, lang):
    context = browser.new_context(locale=LANGUAGES[lang], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def words(lang: str, text: str) -> str:
    with translation.override(lang):
        return gettext(text)


def plural(lang: str, one: str, many: str, n: int) -> str:
    with translation.override(lang):
        return ngettext(one, many, n) % {"n": n}


def _signed_in(staff_page, live_server, user, lang) -> None:
    sign_in(staff_page, live_server, user, factories.make_device(user))
    staff_page.wait_for_url("**/work/")
    assert staff_page.locator("html").get_attribute("lang") == lang


def test_approve_selected_with_nothing_selected_shows_the_error(
    staff_page,
    lang,
    live_server,
    shoot,
    sim_platform,  # noqa: F811 - the fixture
    central,
) -> None:
    caseworker = factories.make_user("caseworker", central, username=f"minji_{lang}")
    case = consenting_case(caseworker, victim={"pseudonym": "Quiet River"})
    for i in range(3):
        services.takedown_create(case=case, url=f"http://127.0.0.1/none/{lang}/{i}", acting_user=caseworker)
    _signed_in(staff_page, live_server, caseworker, lang)
    staff_page.goto(f"{live_server.url}/cases/{case.pk}/")
    with staff_page.expect_navigation():
        staff_page.get_by_role("button", name=words(lang, "Approve selected")).click()
    error = words(lang, "Nothing was selected: choose the drafts to approve, or approve all drafts.")
    assert staff_page.locator(".msg.error").filter(has_text=error).is_visible()
    shoot(staff_page, f"90-approve-none-{lang}")
    assert not Notice.objects.exists()
    assert set(TakedownRequest.objects.filter(case=case).values_list("status", flat=True)) == {"draft"}
    # "Approve all" is a separate action that states the count and asks first.
    with staff_page.expect_navigation():
        staff_page.locator("[data-approve-all]").click()
    question = plural(lang, "Approve %(n)s draft of this case and send its notice?",
                      "Approve all %(n)s drafts of this case and send their notices?", 3)  # fmt: skip
    assert staff_page.get_by_text(question).is_visible()
    shoot(staff_page, f"91-approve-all-confirm-{lang}")
    assert not Notice.objects.exists()


def test_pasted_duplicate_of_another_centre_and_refused_lines(
    staff_page,
    lang,
    live_server,
    shoot,
    sim_platform,  # noqa: F811 - the fixture
    central,
    region,
) -> None:
    seoul = factories.make_user("caseworker", central, username=f"seoul_{lang}")
    original_case = consenting_case(seoul)
    original = services.takedown_create(case=original_case, url="http://127.0.0.1/dup/clip", acting_user=seoul)
    services.takedown_approve(requests=[original], acting_user=seoul)
    busan = factories.make_user("supervisor", region, username=f"busan_{lang}")
    case = consenting_case(busan, victim={"pseudonym": "Harbour Light"})
    _signed_in(staff_page, live_server, busan, lang)
    staff_page.goto(f"{live_server.url}/cases/{case.pk}/")
    paste = "\n".join(["HTTP://127.0.0.1/dup/clip?utm_source=chat#t=10", "", "127.0.0.1/new/1", "javascript:alert(1)", "hello"])
    staff_page.locator("#id_bulk-urls").fill(paste)
    # The form posts by XHR, then reloads the page, which shows the result.
    staff_page.locator("form[data-bulk] button[type=submit]").click()
    result = staff_page.locator("#bulk-result")
    result.wait_for(state="visible")
    assert plural(lang, "%(n)s draft created.", "%(n)s drafts created.", 2) in result.inner_text()
    assert plural(lang, "%(n)s line was not used:", "%(n)s lines were not used:", 2) in result.inner_text()
    assert words(lang, "only http and https addresses are accepted") in result.inner_text()
    assert words(lang, "not a web address") in result.inner_text()
    warning = words(lang, "Duplicate: already handled by a request in another case")
    row = staff_page.locator("#takedowns tr[data-request]").filter(has_text="/dup/clip")
    assert row.locator(".duplicate").inner_text().strip() == warning
    assert original_case.reference not in staff_page.content()
    assert row.locator(f'a[href="/takedowns/{original.pk}/"]').count() == 0
    shoot(staff_page, f"92-duplicate-warning-{lang}")
    # The result stays until dismissed.
    staff_page.reload()
    assert staff_page.locator("#bulk-result").is_visible()
    with staff_page.expect_navigation():
        staff_page.locator("#bulk-result").get_by_role("button", name=words(lang, "Dismiss")).click()
    assert staff_page.locator("#bulk-result").count() == 0


def test_a_case_with_2000_requests_is_paged_and_filtered(
    staff_page,
    lang,
    live_server,
    shoot,
    sim_platform,  # noqa: F811 - the fixture
    central,
) -> None:
    caseworker = factories.make_user("caseworker", central, username=f"dahye_{lang}")
    case = consenting_case(caseworker, victim={"pseudonym": "Northern Pine"})
    urls = [f"http://127.0.0.1/big/{lang}/{i}" for i in range(2000)]
    services.takedown_bulk_create(case=case, urls=urls, acting_user=caseworker)
    ids = list(TakedownRequest.objects.filter(case=case).order_by("pk").values_list("pk", flat=True))
    TakedownRequest.objects.filter(pk__in=ids[:120]).update(status="removed")
    _signed_in(staff_page, live_server, caseworker, lang)
    staff_page.goto(f"{live_server.url}/cases/{case.pk}/")
    rows = staff_page.locator("#takedowns tr[data-request]")
    assert rows.count() == 50
    with translation.override(lang):
        assert gettext("Page %(n)s of %(total)s") % {"n": 1, "total": 40} in staff_page.locator("#takedowns .pager").inner_text()
    shoot(staff_page, f"93-large-case-{lang}")
    staff_page.locator("#t-status").select_option("removed")
    with staff_page.expect_navigation():
        staff_page.locator("form[data-takedown-filters] button[type=submit]").click()
    assert "t_status=removed" in staff_page.url  # in the address, so the link can be shared
    assert (
        plural(lang, "%(n)s request matches.", "%(n)s requests match.", 120)
        in staff_page.locator("[data-match-count]").inner_text()
    )
    assert rows.count() == 50
    removed_label = words(lang, "Removed")
    assert set(rows.locator("[data-status]").all_inner_texts()) == {removed_label}
    with staff_page.expect_navigation():
        staff_page.locator("#takedowns .pager a[rel=next]").click()
    assert "t_status=removed" in staff_page.url and "t_page=2" in staff_page.url
    assert rows.count() == 50
    shoot(staff_page, f"94-large-case-filtered-{lang}")
    # The global list, filtered by this case and sorted by status, shows the same count.
    staff_page.goto(f"{live_server.url}/takedowns/?case={case.pk}&status=removed&sort=status")
    assert (
        plural(lang, "%(n)s request matches.", "%(n)s requests match.", 120)
        in staff_page.locator("[data-match-count]").inner_text()
    )
    shoot(staff_page, f"95-takedown-list-filtered-{lang}")
