"""Jurisdictions: the legal basis a notice cites and the deadlines the centre asks for.

Plain Python, no models. A platform's `jurisdiction` code is looked up here; GB is an alias of UK,
EU member states map to EU, and any other code (including empty) falls back to OTHER.

The wording is deliberately conservative: where a provision could not be pinned down precisely the
text names the instrument rather than an article. Several of these deadlines bind a platform only
when a regulator (not the centre) issues an order; the centre asks for the same time frame and says
so plainly. See docs/notices.md.

Default deadlines can be changed per jurisdiction with the Django setting
`TAKEDOWN_DEFAULT_SLA_HOURS`, e.g. `{"EU": 12}`; without Django (or without the setting) the table
values apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT = "OTHER"


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    # language code -> text. "en" is always present; a local-language version where one is given.
    legal_basis: Mapping[str, str]
    default_sla_hours: int
    # The shortest deadline the jurisdiction itself defines, used for urgent requests. None: the default.
    urgent_sla_hours: int | None = None
    local_language: str = "en"
    note: str = field(default="", compare=False)


_OTHER_BASIS = {
    "en": (
        "We ask you to act under your terms of service and content policies, which on most services prohibit sharing "
        "intimate images without the consent of the person depicted. Distributing such material is also a criminal "
        "offence under the laws of the Republic of Korea."
    ),
    "ko": (
        "귀사의 이용약관 및 콘텐츠 정책에 따라 조치하여 주실 것을 요청합니다. 대부분의 서비스는 당사자의 동의 없는 "
        "성적 촬영물 등의 게시를 금지하고 있습니다. 또한 이러한 촬영물 등의 유포는 대한민국 법률상 범죄에 해당합니다."
    ),
    "ja": (
        "貴社の利用規約およびコンテンツポリシーに基づく対応をお願いいたします。多くのサービスでは、本人の同意のない"
        "私的な性的画像の共有が禁止されています。また、このような画像等の頒布は大韓民国の法律上、犯罪に当たります。"
    ),
    "zh": (
        "请依据贵方的服务条款和内容政策处理本通知。大多数服务均禁止未经当事人同意发布私密影像。"
        "根据大韩民国法律，传播此类材料亦构成刑事犯罪。"
    ),
}

JURISDICTIONS: dict[str, Jurisdiction] = {
    "KR": Jurisdiction(
        code="KR",
        name="Republic of Korea",
        legal_basis={
            "en": (
                "Under Article 22-5 of the Telecommunications Business Act (전기통신사업법 제22조의5), a value-added "
                "telecommunications service provider that becomes aware, through a report, a deletion request or a "
                "request from a designated institution or organisation, that illegally filmed material etc. is being "
                "distributed on its service must without delay delete it, block access to it or take the other measures "
                "necessary to prevent its distribution. Illegally filmed material etc. includes material covered by "
                "Article 14 and Article 14-2 of the Act on Special Cases Concerning the Punishment of Sexual Crimes "
                "(성폭력범죄의 처벌 등에 관한 특례법), which concern illegally filmed material and edited or synthesised "
                "false video material (including deepfakes)."
            ),
            "ko": (
                "「전기통신사업법」 제22조의5에 따라 부가통신사업자는 자신이 운영·관리하는 정보통신망을 통하여 불법촬영물등이 "
                "유통되는 사정을 신고, 삭제요청 또는 대통령령으로 정하는 기관·단체의 요청 등을 통하여 인식한 경우 지체 없이 "
                "해당 정보의 삭제·접속차단 등 유통방지에 필요한 조치를 하여야 합니다. 불법촬영물등에는 「성폭력범죄의 처벌 "
                "등에 관한 특례법」 제14조에 따른 촬영물 또는 복제물과 같은 법 제14조의2에 따른 편집물·합성물·가공물"
                "(허위영상물) 또는 복제물이 포함됩니다."
            ),
        },
        default_sla_hours=24,
        local_language="ko",
        note="The statute says 'without delay' (지체 없이); 24 hours is the centre's own deadline.",
    ),
    "AU": Jurisdiction(
        code="AU",
        name="Australia",
        legal_basis={
            "en": (
                "The Online Safety Act 2021 (Cth) prohibits posting an intimate image of a person without their consent. "
                "Under section 77 of that Act, the eSafety Commissioner may give the provider of a social media service, "
                "relevant electronic service or designated internet service a removal notice requiring the image to be "
                "removed within 24 hours."
            ),
        },
        default_sla_hours=24,
        note="Removal notices are issued by the eSafety Commissioner; the centre asks for the same 24 hours.",
    ),
    "ID": Jurisdiction(
        code="ID",
        name="Indonesia",
        legal_basis={
            "en": (
                "Under Regulation of the Minister of Communication and Informatics No. 5 of 2020 on Private Scope "
                "Electronic System Operators (MR5), operators must take down prohibited electronic information, "
                "including pornographic content, within 24 hours of receiving a takedown order, or within 4 hours "
                "where the request is urgent."
            ),
            "id": (
                "Berdasarkan Peraturan Menteri Komunikasi dan Informatika Nomor 5 Tahun 2020 tentang Penyelenggara "
                "Sistem Elektronik Lingkup Privat, Penyelenggara Sistem Elektronik wajib melakukan pemutusan akses "
                "(take down) terhadap Informasi Elektronik dan/atau Dokumen Elektronik yang dilarang, termasuk konten "
                "pornografi, paling lambat 1 x 24 jam setelah perintah pemutusan akses diterima, atau paling lambat "
                "4 jam untuk permohonan yang bersifat mendesak."
            ),
        },
        default_sla_hours=24,
        urgent_sla_hours=4,
        local_language="id",
        note="MR5 time limits run from an order of the ministry; the centre asks for the same time frame.",
    ),
    "UK": Jurisdiction(
        code="UK",
        name="United Kingdom",
        legal_basis={
            "en": (
                "Sharing, or threatening to share, a photograph or film which shows or appears to show another person "
                "in an intimate state without their consent is an offence under section 66B of the Sexual Offences Act "
                "2003 (inserted by the Online Safety Act 2023) in England and Wales. Under the Online Safety Act 2023, "
                "providers of user-to-user services must swiftly take down illegal content once they become aware of it."
            ),
        },
        default_sla_hours=48,
        note="48 hours is the centre's default.",
    ),
    "EU": Jurisdiction(
        code="EU",
        name="European Union",
        legal_basis={
            "en": (
                "Under Article 16 of Regulation (EU) 2022/2065 (Digital Services Act), providers of hosting services must "
                "process notices of illegal content in a timely, diligent, non-arbitrary and objective manner. A provider "
                "that obtains knowledge of illegal content must act expeditiously to remove it or to disable access to it "
                "(Article 6)."
            ),
        },
        default_sla_hours=24,
        note="The regulation says 'expeditiously'; 24 hours is the centre's default (configurable).",
    ),
    "US": Jurisdiction(
        code="US",
        name="United States",
        legal_basis={
            "en": (
                "Under the TAKE IT DOWN Act (2025), a covered platform that receives a valid removal request from an "
                "identifiable individual, or from a person authorised to act on their behalf, must remove the "
                "non-consensual intimate visual depiction (including a computer-generated one) as soon as possible and "
                "no later than 48 hours after receiving the request, and make reasonable efforts to remove known "
                "identical copies."
            ),
        },
        default_sla_hours=48,
        note="The notice-and-removal duties apply from 19 May 2026.",
    ),
    "JP": Jurisdiction(
        code="JP",
        name="Japan",
        legal_basis={
            "en": (
                "The Act on Prevention of Damage by Provision of Private Sexual Image Records (Act No. 126 of 2014) "
                "shortens, for private sexual image records, the period a provider waits for the sender's reply before "
                "taking measures to prevent transmission from seven days to two days."
            ),
            "ja": (
                "私事性的画像記録の提供等による被害の防止に関する法律（平成26年法律第126号）は、私事性的画像記録について、"
                "プロバイダ等が送信防止措置を講ずる前に発信者の意見を照会した場合の待機期間を、通常の7日から2日に短縮する"
                "特例を定めています。"
            ),
        },
        default_sla_hours=48,
        local_language="ja",
    ),
    DEFAULT: Jurisdiction(
        code=DEFAULT,
        name="Other (platform terms of service)",
        legal_basis=_OTHER_BASIS,
        default_sla_hours=48,
    ),
}

# Codes that map onto an entry above. EU: the 27 member states (Greece also as "EL", the EU's own code).
EU_MEMBER_STATES: tuple[str, ...] = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "EL",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
)
ALIASES: dict[str, str] = {"GB": "UK", **dict.fromkeys(EU_MEMBER_STATES, "EU")}


def resolve(jurisdiction: str | None) -> Jurisdiction:
    """The table entry for a code (case-insensitive, aliases followed); OTHER when unknown."""
    code = (jurisdiction or "").strip().upper()
    code = ALIASES.get(code, code)
    return JURISDICTIONS.get(code, JURISDICTIONS[DEFAULT])


def canonical_code(jurisdiction: str | None) -> str:
    return resolve(jurisdiction).code


def base_language(language: str | None) -> str:
    """'ko-KR' -> 'ko', 'zh_Hans' -> 'zh'."""
    return (language or "").strip().lower().replace("_", "-").split("-")[0]


def legal_basis(jurisdiction: str, language: str) -> str:
    """The legal basis text in `language` where the table has it, else in English."""
    entry = resolve(jurisdiction)
    return entry.legal_basis.get(base_language(language)) or entry.legal_basis["en"]


def _configured_default(code: str) -> int | None:
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is always installed in this project
        return None
    if not settings.configured:
        return None
    overrides = getattr(settings, "TAKEDOWN_DEFAULT_SLA_HOURS", None) or {}
    value = overrides.get(code)
    if value is None:
        return None
    hours = int(value)
    if hours < 1:
        raise ValueError(f"TAKEDOWN_DEFAULT_SLA_HOURS[{code!r}] must be at least 1 hour, not {value!r}")
    return hours


def default_sla_hours(jurisdiction: str) -> int:
    """The deadline the centre asks for in this jurisdiction when the platform has none of its own."""
    entry = resolve(jurisdiction)
    configured = _configured_default(entry.code)
    return configured if configured is not None else entry.default_sla_hours


def urgent_sla_hours(jurisdiction: str) -> int:
    """The shortest deadline the jurisdiction defines (ID: 4 h); its default where it defines no shorter one."""
    entry = resolve(jurisdiction)
    default = default_sla_hours(entry.code)
    return min(entry.urgent_sla_hours, default) if entry.urgent_sla_hours else default


def deadline_hours(jurisdiction: str, platform_sla_hours: int | None, *, urgent: bool) -> int:
    """How many hours the notice gives the platform.

    Not urgent: the platform's own SLA when it has one, else the jurisdiction's default.
    Urgent (a minor is involved, or the case is marked urgent): the shortest deadline the jurisdiction
    defines, and never longer than the platform's own SLA.
    A platform SLA of 0 or None counts as "not set".
    """
    platform = platform_sla_hours if platform_sla_hours and platform_sla_hours > 0 else None
    if not urgent:
        return platform if platform is not None else default_sla_hours(jurisdiction)
    hours = urgent_sla_hours(jurisdiction)
    return min(hours, platform) if platform is not None else hours
