"""Takedown notice texts: initial notice, repeat notice and escalation to a regulator.

Plain functions on plain values; no database. The caller decides what may be shared:

* fingerprints are passed only when the person concerned consented to hash sharing;
* nothing here takes a name, contact detail or any other identity of the person concerned, and the
  material itself is never attached (every notice says so).

Languages: ko, en, ja, zh (Simplified). Anything else is written in English. Deadlines are given in
ISO 8601 with their offset: Korea Standard Time for Korean notices, UTC otherwise, and the notice says
which. See docs/notices.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from takedowns import jurisdictions

SUPPORTED_LANGUAGES = ("ko", "en", "ja", "zh")
FALLBACK_LANGUAGE = "en"
KINDS = ("initial", "resend", "escalation")
SEOUL = ZoneInfo("Asia/Seoul")

# "[KR-2026-000123/T42]": the case reference and the takedown request's id. Replies keep it in the subject.
REFERENCE_TOKEN_RE = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9-]{0,31})/T(\d{1,12})\]")
_ALGORITHM_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
_HEX_RE = re.compile(r"[0-9a-f]{1,1024}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class _Texts:
    subject_initial: str
    subject_resend: str
    subject_escalation: str
    greeting: str
    intro_initial: str
    intro_resend: str  # {previous}
    intro_resend_undated: str
    intro_escalation: str  # {platform}
    intro_escalation_unnamed: str
    urgent: str
    label_case: str
    label_token: str
    label_url: str
    label_category: str
    label_deadline: str
    label_deadline_escalation: str
    label_legal: str
    label_legal_escalation: str
    label_history: str
    history_empty: str
    good_faith: str
    fingerprints_intro: str
    never_attached: str
    reply: str  # {reply_email} {token}
    closing: str  # {organisation}
    tz_suffix: str  # after a time: which zone it is in
    colon: str = ": "


_TEXTS: dict[str, _Texts] = {
    "en": _Texts(
        subject_initial="{token} Request to remove material - case {case}",
        subject_resend="{token} Repeat request to remove material - case {case}",
        subject_escalation="{token} Escalation: material not removed - case {case}",
        greeting="Dear Sir or Madam,",
        intro_initial="We ask you to remove the material at the address below, or to disable access to it, without delay.",
        intro_resend=(
            "On {previous} we asked you to remove the material at the address below. When we last checked, it was "
            "still available. We ask you again to remove it, or to disable access to it, without delay."
        ),
        intro_resend_undated=(
            "We previously asked you to remove the material at the address below. When we last checked, it was still "
            "available. We ask you again to remove it, or to disable access to it, without delay."
        ),
        intro_escalation=(
            "We ask for your assistance. We notified the service provider ({platform}) of the material at the address "
            "below and asked for its removal. When we last checked, it had not been removed."
        ),
        intro_escalation_unnamed=(
            "We ask for your assistance. We notified the service provider of the material at the address below and "
            "asked for its removal. When we last checked, it had not been removed."
        ),
        urgent="This request is urgent.",
        label_case="Case reference",
        label_token="Reference",
        label_url="URL",
        label_category="Category",
        label_deadline="Please act by",
        label_deadline_escalation="Deadline given to the provider",
        label_legal="Legal basis",
        label_legal_escalation="Legal basis cited to the provider",
        label_history="Request history",
        history_empty="(no history recorded)",
        good_faith=(
            "We state in good faith that this material was made available without the consent of the person concerned, "
            "and that the information in this notice is accurate and complete to the best of our knowledge. We act on "
            "behalf of the person concerned; to protect them, this notice does not identify them."
        ),
        fingerprints_intro=(
            "With the consent of the person concerned, we share these image fingerprints to help find copies of the material:"
        ),
        never_attached="We never attach the material itself to our notices, and this notice contains none.",
        reply="Please reply to {reply_email} and keep the reference {token} in the subject line.",
        closing="Yours faithfully,\n{organisation}",
        tz_suffix=" (UTC)",
    ),
    "ko": _Texts(
        subject_initial="{token} 게시물 삭제 요청 - 사건번호 {case}",
        subject_resend="{token} 게시물 삭제 재요청 - 사건번호 {case}",
        subject_escalation="{token} 미삭제 게시물 조치 요청 - 사건번호 {case}",
        greeting="담당자님께",
        intro_initial="아래 주소에 게시된 정보를 지체 없이 삭제하거나 접속을 차단하여 주실 것을 요청합니다.",
        intro_resend=(
            "본 기관은 {previous}에 아래 주소에 게시된 정보의 삭제를 요청하였으나, 최근 확인 결과 해당 정보가 여전히 "
            "게시되어 있습니다. 지체 없이 삭제하거나 접속을 차단하여 주실 것을 다시 요청합니다."
        ),
        intro_resend_undated=(
            "본 기관은 앞서 아래 주소에 게시된 정보의 삭제를 요청하였으나, 최근 확인 결과 해당 정보가 여전히 게시되어 "
            "있습니다. 지체 없이 삭제하거나 접속을 차단하여 주실 것을 다시 요청합니다."
        ),
        intro_escalation=(
            "본 기관은 아래 주소에 게시된 정보에 대하여 서비스 제공자({platform})에게 삭제를 요청하였으나, 최근 확인 결과 "
            "해당 정보가 삭제되지 않았습니다. 이에 필요한 조치를 요청드립니다."
        ),
        intro_escalation_unnamed=(
            "본 기관은 아래 주소에 게시된 정보에 대하여 서비스 제공자에게 삭제를 요청하였으나, 최근 확인 결과 해당 정보가 "
            "삭제되지 않았습니다. 이에 필요한 조치를 요청드립니다."
        ),
        urgent="이 요청은 긴급한 처리가 필요합니다.",
        label_case="사건번호",
        label_token="참조번호",
        label_url="URL",
        label_category="유형",
        label_deadline="처리 기한",
        label_deadline_escalation="서비스 제공자에게 요청한 처리 기한",
        label_legal="법적 근거",
        label_legal_escalation="서비스 제공자에게 제시한 법적 근거",
        label_history="요청 경과",
        history_empty="(기록된 경과 없음)",
        good_faith=(
            "본 기관은 위 정보가 당사자의 동의 없이 게시되었으며, 이 통지의 내용이 본 기관이 아는 한 정확하고 완전하다는 "
            "것을 선의로 확인합니다. 본 기관은 당사자를 대리하여 이 요청을 드리며, 당사자 보호를 위하여 이 통지에는 "
            "당사자를 식별할 수 있는 정보를 적지 않았습니다."
        ),
        fingerprints_intro="사본을 찾는 데 활용하실 수 있도록 당사자의 동의를 받아 다음 이미지 특징값(해시)을 공유합니다.",
        never_attached="본 기관은 통지에 해당 촬영물 등 자료 자체를 첨부하지 않으며, 이 통지에도 첨부하지 않았습니다.",
        reply="회신은 {reply_email} 주소로 보내 주시고, 제목의 참조번호({token})는 그대로 유지하여 주십시오.",
        closing="{organisation} 드림",
        tz_suffix=" (한국 표준시, KST)",
    ),
    "ja": _Texts(
        subject_initial="{token} 削除のご依頼 - 事案番号 {case}",
        subject_resend="{token} 削除の再依頼 - 事案番号 {case}",
        subject_escalation="{token} 未削除情報への対応のお願い - 事案番号 {case}",
        greeting="ご担当者様",
        intro_initial="下記URLに掲載されている情報について、速やかに削除または送信防止の措置を講じていただくようお願いいたします。",
        intro_resend=(
            "当機関は{previous}に下記URLに掲載されている情報の削除をお願いいたしましたが、直近の確認時点でも引き続き掲載されて"
            "おります。改めて、速やかに削除または送信防止の措置を講じていただくようお願いいたします。"
        ),
        intro_resend_undated=(
            "当機関は先に下記URLに掲載されている情報の削除をお願いいたしましたが、直近の確認時点でも引き続き掲載されて"
            "おります。改めて、速やかに削除または送信防止の措置を講じていただくようお願いいたします。"
        ),
        intro_escalation=(
            "当機関は下記URLに掲載されている情報について、サービス提供者（{platform}）に削除を依頼いたしましたが、直近の確認"
            "時点でも削除されておりません。つきましては、ご対応をお願いいたします。"
        ),
        intro_escalation_unnamed=(
            "当機関は下記URLに掲載されている情報について、サービス提供者に削除を依頼いたしましたが、直近の確認時点でも削除"
            "されておりません。つきましては、ご対応をお願いいたします。"
        ),
        urgent="本件は緊急の対応を要します。",
        label_case="事案番号",
        label_token="参照番号",
        label_url="URL",
        label_category="種類",
        label_deadline="対応期限",
        label_deadline_escalation="サービス提供者に示した対応期限",
        label_legal="法的根拠",
        label_legal_escalation="サービス提供者に示した法的根拠",
        label_history="依頼の経過",
        history_empty="（記録された経過はありません）",
        good_faith=(
            "当機関は、上記の情報が当事者の同意なく公開されたものであること、また本通知の内容が当機関の知る限り正確かつ"
            "完全であることを誠実に表明します。当機関は当事者に代わって本依頼を行っており、当事者の保護のため、本通知には"
            "当事者を特定できる情報を記載しておりません。"
        ),
        fingerprints_intro="複製の検出にご利用いただけるよう、当事者の同意を得て、以下の画像特徴量（ハッシュ値）を共有いたします。",
        never_attached="当機関は通知に当該画像等そのものを添付することはなく、本通知にも添付しておりません。",
        reply="ご返信は {reply_email} 宛てにお送りいただき、件名の参照番号 {token} はそのまま残してください。",
        closing="{organisation}",
        tz_suffix="（協定世界時、UTC）",
        colon="：",
    ),
    "zh": _Texts(
        subject_initial="{token} 删除请求 - 案件编号 {case}",
        subject_resend="{token} 再次删除请求 - 案件编号 {case}",
        subject_escalation="{token} 未删除内容处理请求 - 案件编号 {case}",
        greeting="您好：",
        intro_initial="现请求贵方立即删除或屏蔽下列网址中的信息。",
        intro_resend="本机构已于{previous}请求贵方删除下列网址中的信息，但经最近一次核查，该信息仍可访问。现再次请求贵方立即删除或屏蔽该信息。",
        intro_resend_undated="本机构此前已请求贵方删除下列网址中的信息，但经最近一次核查，该信息仍可访问。现再次请求贵方立即删除或屏蔽该信息。",
        intro_escalation=(
            "本机构已就下列网址中的信息通知服务提供者（{platform}）并请求删除，但经最近一次核查，该信息仍未被删除。特此请求贵方协助处理。"
        ),
        intro_escalation_unnamed="本机构已就下列网址中的信息通知服务提供者并请求删除，但经最近一次核查，该信息仍未被删除。特此请求贵方协助处理。",
        urgent="本请求需紧急处理。",
        label_case="案件编号",
        label_token="参考编号",
        label_url="网址",
        label_category="类别",
        label_deadline="处理期限",
        label_deadline_escalation="向服务提供者提出的处理期限",
        label_legal="法律依据",
        label_legal_escalation="向服务提供者援引的法律依据",
        label_history="请求记录",
        history_empty="（无记录）",
        good_faith=(
            "本机构善意声明：上述信息系在未经当事人同意的情况下公开，且据本机构所知，本通知内容准确、完整。本机构代表当事人"
            "提出本请求；为保护当事人，本通知不包含任何可识别当事人身份的信息。"
        ),
        fingerprints_intro="经当事人同意，现提供以下图像特征值（哈希值），以便查找相关材料的副本：",
        never_attached="本机构从不在通知中附上相关材料本身，本通知亦未附带任何此类材料。",
        reply="请回复至 {reply_email}，并在邮件标题中保留参考编号 {token}。",
        closing="此致\n{organisation}",
        tz_suffix="（协调世界时，UTC）",
        colon="：",
    ),
}

_CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "deepfake": {
        "en": "Deepfake: sexually explicit image or video made or altered with software",
        "ko": "허위영상물(딥페이크): 성적으로 합성·편집·가공된 사진 또는 영상",
        "ja": "性的なディープフェイク（ソフトウェアで合成・加工された画像・動画）",
        "zh": "色情深度伪造：经软件合成或篡改的图像、视频",
    },
    "intimate_image": {
        "en": "Intimate image shared without consent",
        "ko": "동의 없이 유포된 성적 촬영물",
        "ja": "本人の同意なく共有された私的な性的画像",
        "zh": "未经同意传播的私密影像",
    },
    "illicit_filming": {
        "en": "Illicit filming: recorded secretly or against the person's will",
        "ko": "불법촬영물: 몰래 또는 의사에 반하여 촬영된 사진 또는 영상",
        "ja": "盗撮：本人に無断で、または本人の意思に反して撮影された画像・動画",
        "zh": "偷拍：秘密或违背当事人意愿拍摄的图像、视频",
    },
    "sextortion": {
        "en": "Sextortion: intimate material used to threaten the person",
        "ko": "성적 촬영물 등을 이용한 협박",
        "ja": "性的な画像等を用いた脅迫（セクストーション）",
        "zh": "性勒索：利用私密材料对当事人进行威胁",
    },
    "personal_info": {
        "en": "Personal information exposed",
        "ko": "개인정보 노출",
        "ja": "個人情報の暴露",
        "zh": "个人信息泄露",
    },
    "other": {
        "en": "Other",
        "ko": "기타",
        "ja": "その他",
        "zh": "其他",
    },
}


def notice_language(language: str | None) -> str:
    """The language a notice is written in: ko, en, ja or zh (Simplified); English for anything else."""
    normalised = (language or "").strip().lower().replace("_", "-")
    base = jurisdictions.base_language(normalised)
    if base == "zh":
        # Simplified Chinese only; Traditional-script locales get English rather than the wrong script.
        traditional = any(part in {"hant", "tw", "hk", "mo"} for part in normalised.split("-")[1:])
        return FALLBACK_LANGUAGE if traditional else "zh"
    return base if base in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE


def category_label(category: str, language: str) -> str:
    """The case category in plain words; unknown categories read as "Other"."""
    labels = _CATEGORY_LABELS.get(str(category), _CATEGORY_LABELS["other"])
    return labels[notice_language(language)]


def make_reference_token(case_reference: str, request_id: int) -> str:
    """'KR-2026-000123', 42 -> '[KR-2026-000123/T42]'."""
    token = f"[{_one_line(case_reference)}/T{int(request_id)}]"
    if not REFERENCE_TOKEN_RE.fullmatch(token):
        raise ValueError(f"cannot build a reference token from {case_reference!r} and {request_id!r}")
    return token


def find_reference_token(text: str) -> tuple[str, int] | None:
    """The (case reference, request id) of the first reference token in a reply's subject or body."""
    match = REFERENCE_TOKEN_RE.search(text or "")
    return (match.group(1), int(match.group(2))) if match else None


def format_datetime(moment: datetime, language: str) -> str:
    """ISO 8601 with offset, in Asia/Seoul for Korean notices and in UTC otherwise."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("notice times must be timezone-aware")
    zone: tzinfo = SEOUL if notice_language(language) == "ko" else UTC
    return moment.astimezone(zone).isoformat(timespec="seconds")


def render_notice(
    *,
    language: str,
    jurisdiction: str,
    url: str,
    case_reference: str,
    reference_token: str,
    category: str,
    deadline: datetime | None,
    fingerprints: list[dict[str, Any]] | None,
    organisation: str,
    reply_email: str,
    kind: str = "initial",
    history: list[str] | None = None,
    previous_notice_at: datetime | None = None,
    platform_name: str = "",
    urgent: bool = False,
) -> tuple[str, str]:
    """(subject, body) of a notice.

    kind: "initial" (first notice to the platform), "resend" (the material is still available;
    `previous_notice_at` dates the earlier notice) or "escalation" (to a regulator; `history` lines
    and `platform_name` say what was asked of whom).
    fingerprints: [{"algorithm": "pdq", "value": "<hex>"}, ...] ("hex" is accepted for "value"); pass
    them only with the consent of the person concerned to hash sharing. None or [] leaves them out.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}; expected one of {', '.join(KINDS)}")
    lang = notice_language(language)
    t = _TEXTS[lang]
    token = _bracketed(reference_token)
    case = _one_line(case_reference)
    if not case:
        raise ValueError("a notice needs a case reference")
    url_line = _one_line(url)
    if not url_line:
        raise ValueError("a notice needs the URL of the material")
    fingerprint_lines = _fingerprint_lines(fingerprints)

    subject_template = {"initial": t.subject_initial, "resend": t.subject_resend, "escalation": t.subject_escalation}[kind]
    subject = subject_template.format(token=token, case=case)

    if kind == "initial":
        intro = t.intro_initial
    elif kind == "resend":
        intro = (
            t.intro_resend.format(previous=format_datetime(previous_notice_at, lang))
            if previous_notice_at
            else t.intro_resend_undated
        )
    else:
        platform = _one_line(platform_name)
        intro = t.intro_escalation.format(platform=platform) if platform else t.intro_escalation_unnamed

    details = [
        f"{t.label_case}{t.colon}{case}",
        f"{t.label_token}{t.colon}{token}",
        f"{t.label_url}{t.colon}{url_line}",
        f"{t.label_category}{t.colon}{category_label(category, lang)}",
    ]
    if deadline is not None:
        label = t.label_deadline_escalation if kind == "escalation" else t.label_deadline
        details.append(f"{label}{t.colon}{format_datetime(deadline, lang)}{t.tz_suffix}")

    blocks: list[str] = [t.greeting, intro + (f"\n{t.urgent}" if urgent else ""), "\n".join(details)]
    legal_label = t.label_legal_escalation if kind == "escalation" else t.label_legal
    blocks.append(f"{legal_label}{t.colon.strip()}\n{jurisdictions.legal_basis(jurisdiction, lang)}")
    if kind == "escalation":
        lines = [f"- {_one_line(line)}" for line in history or [] if _one_line(line)]
        blocks.append(f"{t.label_history}{t.colon.strip()}\n" + ("\n".join(lines) if lines else t.history_empty))
    blocks.append(t.good_faith)
    if fingerprint_lines:
        blocks.append(t.fingerprints_intro + "\n" + "\n".join(fingerprint_lines))
    blocks.append(t.never_attached)
    blocks.append(t.reply.format(reply_email=_one_line(reply_email), token=token))
    blocks.append(t.closing.format(organisation=_one_line(organisation)))
    return subject, "\n\n".join(blocks) + "\n"


def _one_line(value: object) -> str:
    """Control characters and line breaks collapse to one space: no header injection, no forged lines."""
    return _CONTROL_RE.sub(" ", str(value or "")).strip()


def _bracketed(reference_token: str) -> str:
    inner = _one_line(reference_token).strip("[]").strip()
    if not inner:
        raise ValueError("a notice needs a reference token, e.g. '[KR-2026-000123/T42]'")
    return f"[{inner}]"


def _fingerprint_lines(fingerprints: list[dict[str, Any]] | None) -> list[str]:
    lines: list[str] = []
    for fingerprint in fingerprints or []:
        algorithm = str(fingerprint.get("algorithm", "")).strip().lower()
        value = str(fingerprint.get("value") or fingerprint.get("hex") or "").strip().lower()
        if not _ALGORITHM_RE.fullmatch(algorithm) or not _HEX_RE.fullmatch(value):
            raise ValueError(f"not a fingerprint (algorithm and hex value expected): {fingerprint!r}")
        line = f"{algorithm}: {value}"
        if line not in lines:
            lines.append(line)
    return lines
