"""Notice texts, jurisdictions and deadlines, and the platform fixture."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.management import call_command

from takedowns import jurisdictions, notices
from takedowns.jurisdictions import deadline_hours, default_sla_hours, legal_basis
from takedowns.notices import category_label, find_reference_token, make_reference_token, render_notice

URL = "https://files.example/view/abc123?x=1"
CASE = "KR-2026-000123"
TOKEN = "[KR-2026-000123/T42]"
DEADLINE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FINGERPRINTS = [
    {"algorithm": "pdq", "value": "f0" * 32},
    {"algorithm": "phash", "value": "8f373714acfcf4d0"},
]
LANGUAGES = ["ko", "en", "ja", "zh"]
KINDS = ["initial", "resend", "escalation"]
FIXTURE = Path(__file__).resolve().parents[2] / "takedowns" / "fixtures" / "platforms.json"


def render(**overrides: object) -> tuple[str, str]:
    arguments: dict[str, object] = {
        "language": "en",
        "jurisdiction": "KR",
        "url": URL,
        "case_reference": CASE,
        "reference_token": TOKEN,
        "category": "intimate_image",
        "deadline": DEADLINE,
        "fingerprints": None,
        "organisation": "Digital Sex Crime Victim Support Center",
        "reply_email": "takedown@centre.example",
        "kind": "initial",
        "history": ["2026-03-01T09:00:00+00:00 notice sent by e-mail", "2026-03-02T10:00:00+00:00 still available"],
    }
    arguments.update(overrides)
    return render_notice(**arguments)  # type: ignore[arg-type]


# Every language and kind ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("jurisdiction", ["KR", "US", "JP", "EU", "OTHER"])
def test_every_language_and_kind_renders_the_essentials(language: str, kind: str, jurisdiction: str) -> None:
    subject, body = render(language=language, kind=kind, jurisdiction=jurisdiction)
    assert subject.startswith(TOKEN)
    assert CASE in subject
    assert "\n" not in subject
    assert len(subject) <= 300  # Notice.subject
    assert URL in body
    assert CASE in body
    assert TOKEN in body
    assert legal_basis(jurisdiction, language) in body
    assert category_label("intimate_image", language) in body
    assert notices._TEXTS[language].never_attached in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_subjects_differ_by_kind(language: str) -> None:
    subjects = {render(language=language, kind=kind)[0] for kind in KINDS}
    assert len(subjects) == 3


def test_token_is_bracketed_whether_or_not_given_with_brackets() -> None:
    assert render(reference_token="KR-2026-000123/T42")[0] == render(reference_token=TOKEN)[0]
    with pytest.raises(ValueError, match="reference token"):
        render(reference_token=" [] ")


def test_local_legal_basis_where_the_table_has_one() -> None:
    _, korean = render(language="ko", jurisdiction="KR")
    assert "전기통신사업법」 제22조의5" in korean
    assert "지체 없이" in korean
    _, japanese = render(language="ja", jurisdiction="JP")
    assert "平成26年法律第126号" in japanese
    # No Korean text for a US platform: the English basis is cited.
    _, mixed = render(language="ko", jurisdiction="US")
    assert "TAKE IT DOWN Act" in mixed


def test_escalation_lists_history_and_platform() -> None:
    _, body = render(kind="escalation", platform_name="Example Host")
    assert "- 2026-03-01T09:00:00+00:00 notice sent by e-mail" in body
    assert "- 2026-03-02T10:00:00+00:00 still available" in body
    assert "Example Host" in body
    _, empty = render(kind="escalation", history=None)
    assert "(no history recorded)" in empty


def test_history_appears_only_in_escalations() -> None:
    for kind in ("initial", "resend"):
        assert "notice sent by e-mail" not in render(kind=kind)[1]


def test_resend_dates_the_previous_notice() -> None:
    previous = datetime(2026, 3, 1, 0, 15, tzinfo=UTC)
    _, english = render(kind="resend", previous_notice_at=previous)
    assert "2026-03-01T00:15:00+00:00" in english
    assert "still available" in english
    _, korean = render(language="ko", kind="resend", previous_notice_at=previous)
    assert "2026-03-01T09:15:00+09:00" in korean
    _, undated = render(kind="resend")
    assert "previously asked" in undated


# Fingerprints --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_fingerprints_appear_only_when_given(language: str, kind: str) -> None:
    _, without = render(language=language, kind=kind, fingerprints=None)
    _, empty = render(language=language, kind=kind, fingerprints=[])
    _, with_them = render(language=language, kind=kind, fingerprints=FINGERPRINTS)
    for body in (without, empty):
        assert "pdq:" not in body
        assert "phash:" not in body
        assert "f0f0f0" not in body
        assert notices._TEXTS[language].fingerprints_intro not in body
    assert f"pdq: {'f0' * 32}" in with_them
    assert "phash: 8f373714acfcf4d0" in with_them
    assert notices._TEXTS[language].fingerprints_intro in with_them


def test_fingerprint_lines_are_normalised_and_deduplicated() -> None:
    _, body = render(fingerprints=[{"algorithm": "PDQ", "hex": "AB" * 32}, {"algorithm": "pdq", "value": "ab" * 32}])
    assert body.count(f"pdq: {'ab' * 32}") == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"algorithm": "pdq"},
        {"algorithm": "pdq", "value": "not hex"},
        {"algorithm": "pdq: x\nEvil", "value": "ab"},
        {"value": "ab"},
    ],
)
def test_malformed_fingerprints_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        render(fingerprints=[bad])


# Languages, deadlines, what is never included -------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "", "xx-YY", "zh-TW", "zh-Hant"])
def test_unknown_language_falls_back_to_english(language: str) -> None:
    assert render(language=language) == render(language="en")


@pytest.mark.parametrize(
    ("language", "expected"), [("ko-KR", "ko"), ("ja_JP", "ja"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("EN", "en")]
)
def test_language_variants(language: str, expected: str) -> None:
    assert notices.notice_language(language) == expected
    assert render(language=language) == render(language=expected)


def test_deadline_is_iso_8601_in_seoul_for_korean_and_utc_otherwise() -> None:
    kst = timezone(timedelta(hours=9))
    deadline = datetime(2026, 3, 2, 18, 30, tzinfo=kst)
    _, korean = render(language="ko", deadline=deadline)
    assert "2026-03-02T18:30:00+09:00 (한국 표준시, KST)" in korean
    _, english = render(language="en", deadline=deadline)
    assert "2026-03-02T09:30:00+00:00 (UTC)" in english
    for language in ("ja", "zh"):
        assert "2026-03-02T09:30:00+00:00" in render(language=language, deadline=deadline)[1]


def test_no_deadline_line_without_a_deadline() -> None:
    _, body = render(deadline=None)
    assert "Please act by" not in body
    assert "without delay" in body


def test_naive_deadline_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render(deadline=datetime(2026, 3, 2, 9, 0))


def test_urgent_sentence_only_when_urgent() -> None:
    assert "This request is urgent." in render(urgent=True)[1]
    assert "urgent" not in render(urgent=False)[1].lower()


def test_line_breaks_in_values_cannot_forge_headers_or_lines() -> None:
    subject, body = render(
        case_reference="KR-2026-000123\r\nBcc: someone@example.org", url="https://a.example/x\nURL: https://b.example"
    )
    assert "\n" not in subject and "\r" not in subject
    assert "\nURL: https://b.example" not in body
    assert "\nBcc:" not in body


def test_notice_does_not_carry_victim_identity_parameters() -> None:
    import inspect

    parameters = set(inspect.signature(render_notice).parameters)
    assert not parameters & {"victim", "name", "legal_name", "contact_email", "contact_phone", "pseudonym", "attachments"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_category_labels(language: str) -> None:
    for category in ("deepfake", "intimate_image", "illicit_filming", "sextortion", "personal_info", "other"):
        assert category_label(category, language)
    assert category_label("no-such-category", language) == category_label("other", language)
    assert category_label("deepfake", "fr") == category_label("deepfake", "en")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        render(kind="reminder")


def test_reference_token_round_trip() -> None:
    token = make_reference_token(CASE, 42)
    assert token == TOKEN
    assert find_reference_token(f"Re: {token} Request to remove material") == (CASE, 42)
    assert find_reference_token("Re: no token here") is None


# Jurisdictions and deadlines ------------------------------------------------------------------


def test_jurisdiction_aliases_and_default() -> None:
    assert jurisdictions.canonical_code("gb") == "UK"
    for member in ("DE", "FR", "IE", "NL"):
        assert jurisdictions.canonical_code(member) == "EU"
    assert jurisdictions.canonical_code("BR") == "OTHER"
    assert jurisdictions.canonical_code("") == "OTHER"
    assert legal_basis("GB", "en") == legal_basis("UK", "en")
    assert legal_basis("DE", "de") == legal_basis("EU", "en")


@pytest.mark.parametrize(
    ("code", "hours"),
    [("KR", 24), ("AU", 24), ("ID", 24), ("UK", 48), ("GB", 48), ("EU", 24), ("US", 48), ("JP", 48), ("OTHER", 48)],
)
def test_default_sla_hours(code: str, hours: int) -> None:
    assert default_sla_hours(code) == hours
    assert deadline_hours(code, None, urgent=False) == hours


def test_deadline_hours_rules() -> None:
    assert deadline_hours("ID", None, urgent=True) == 4
    assert deadline_hours("ID", 72, urgent=True) == 4
    assert deadline_hours("KR", None, urgent=False) == 24
    assert deadline_hours("KR", None, urgent=True) == 24
    assert deadline_hours("UK", None, urgent=False) == 48
    # Urgent: never longer than the platform's own SLA.
    assert deadline_hours("UK", 12, urgent=True) == 12
    assert deadline_hours("ID", 2, urgent=True) == 2
    assert deadline_hours("US", 72, urgent=True) == 48
    # Not urgent: the platform's SLA when set (even when longer than the jurisdiction's default).
    assert deadline_hours("KR", 12, urgent=False) == 12
    assert deadline_hours("UK", 72, urgent=False) == 72
    assert deadline_hours("ID", 0, urgent=False) == 24  # 0 counts as not set


def test_default_sla_is_configurable(settings) -> None:
    settings.TAKEDOWN_DEFAULT_SLA_HOURS = {"EU": 12}
    assert default_sla_hours("EU") == 12
    assert default_sla_hours("FR") == 12
    assert deadline_hours("EU", None, urgent=True) == 12
    assert default_sla_hours("KR") == 24


def test_every_jurisdiction_has_english_text() -> None:
    for entry in jurisdictions.JURISDICTIONS.values():
        assert entry.legal_basis["en"]
        assert entry.default_sla_hours > 0


# The platform fixture -------------------------------------------------------------------------


def test_fixture_is_well_formed_without_a_database() -> None:
    from takedowns.models import Platform

    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
    field_names = {f.name for f in Platform._meta.get_fields() if getattr(f, "concrete", False) and not f.primary_key}
    assert [row["pk"] for row in rows] == list(range(1, len(rows) + 1))
    names = [row["fields"]["name"] for row in rows]
    assert len(set(names)) == len(names)
    seen_domains: set[str] = set()
    for row in rows:
        assert row["model"] == "takedowns.platform"
        assert set(row["fields"]) <= field_names, set(row["fields"]) - field_names
        fields = row["fields"]
        assert fields["secret"] == "" and fields["endpoint"] == ""
        assert fields["rate_limit_per_minute"] == 60
        assert fields["sla_hours"] == default_sla_hours(fields["jurisdiction"])
        for domain in fields["domains"]:
            assert domain == domain.lower().strip() and domain not in seen_domains
            seen_domains.add(domain)


@pytest.mark.django_db
def test_fixture_loads_and_every_platform_can_be_reached() -> None:
    from takedowns.models import Channel, Platform

    call_command("loaddata", "platforms", verbosity=0)
    platforms = list(Platform.objects.all())
    assert len(platforms) >= 15
    names = {p.name for p in platforms}
    for expected in ("X (Twitter)", "Telegram", "YouTube", "Naver", "Kakao", "Daum", "Reddit", "Discord", "TikTok"):
        assert expected in names
    for platform in platforms:
        assert platform.domains, platform
        assert platform.secret == ""
        if platform.channel == Channel.EMAIL:
            assert platform.email, platform
        elif platform.channel == Channel.MANUAL:
            assert platform.web_form_url.startswith("https://"), platform
        else:
            pytest.fail(f"{platform}: the fixture has no API platforms")
        if platform.jurisdiction == "KR":
            assert platform.notice_language == "ko"
            assert platform.escalation_name == "Korea Communications Standards Commission (KCSC)"
        # Placeholder hosts stay under the reserved .example domain.
        if platform.name.startswith("Anonymous"):
            assert all(d.endswith(".example") for d in platform.domains)
            assert platform.web_form_url.split("/")[2].endswith(".example")
    # Loading twice updates the same rows rather than adding new ones.
    call_command("loaddata", "platforms", verbosity=0)
    assert Platform.objects.count() == len(platforms)


@pytest.mark.django_db(transaction=True)
def test_a_web_form_notice_is_shown_ready_to_paste_then_marked_submitted(caseworker, client_for) -> None:
    """What the caseworker sees of a notice for a platform that only has a web form: the prepared
    text (address and reference token, never the victim's name) on the manual queue, until they
    mark it submitted."""
    from takedowns import services, tasks
    from takedowns.models import Notice, TakedownRequest
    from tests import factories
    from tests.pagetext import visible_text

    services.platform_create(
        acting_user=None, name="Form Host", domains=["form.example"], channel="manual", web_form_url="https://form.example/report"
    )
    case = factories.make_case(
        caseworker,
        consent={"takedown": True},
        victim={"pseudonym": "Pseudonym Wren", "is_minor": False, "language": "ko"},
    )
    page = client_for(caseworker)
    page.post(f"/takedowns/case/{case.pk}/bulk/", {"bulk-urls": "https://form.example/v/42"})
    request = TakedownRequest.objects.get(case=case)
    page.post(f"/takedowns/case/{case.pk}/approve/", {"requests": [str(request.pk)]})
    notice = Notice.objects.get(request=request)
    tasks.deliver_notice(notice.pk)  # the delivery a worker would run: a web form waits for a person

    html = page.get("/takedowns/manual/").content.decode()
    text = visible_text(html)
    assert "Form Host" in text and case.reference in text
    assert "https://form.example/report" in html
    notice.refresh_from_db()
    assert notice.subject in html and "https://form.example/v/42" in html
    assert find_reference_token(notice.body)
    assert "Pseudonym Wren" not in html

    page.post(f"/takedowns/manual/{notice.pk}/done/", {"ticket": "FORM-7"})
    assert "Nothing waiting." in visible_text(page.get("/takedowns/manual/").content.decode())
    notice.refresh_from_db()
    assert notice.status == "done"
