"""Demo data for `make run`: centres, one user per role, platforms and a few cases.

Demo users have a fixed password and a TOTP secret derived from their name, so that
`manage.py demo_totp USERNAME` can print a valid code. Never load this into production.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import services
from core.models import Centre, User
from core.roles import Role

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = [
    ("caseworker", Role.CASEWORKER, "central"),
    ("caseworker2", Role.CASEWORKER, "central"),
    ("supervisor", Role.SUPERVISOR, "central"),
    ("analyst", Role.ANALYST, "central"),
    ("admin", Role.ADMIN, "central"),
    ("auditor", Role.AUDITOR, "central"),
    ("busan-caseworker", Role.CASEWORKER, "busan"),
    ("busan-supervisor", Role.SUPERVISOR, "busan"),
]


def demo_totp_key(username: str) -> str:
    return hashlib.sha256(f"demo-totp:{username}".encode()).hexdigest()[:40]


@transaction.atomic
def load_demo() -> list[str]:
    from cases import services as case_services
    from takedowns.models import Channel, Platform
    from takedowns.services import platform_create

    created: list[str] = []
    central = services.central_centre()
    busan = Centre.objects.filter(code="busan").first() or services.centre_create(code="busan", name="Busan Regional Centre")
    centres = {"central": central, "busan": busan}
    for username, role, centre_code in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = services.user_create(
                username=username,
                role=role,
                centre=centres[centre_code],
                password=DEMO_PASSWORD,
                email=f"{username}@demo.invalid",
            )
            created.append(username)
        TOTPDevice.objects.get_or_create(user=user, defaults={"name": "demo", "key": demo_totp_key(username), "confirmed": True})

    for name, domains, jurisdiction, channel, email in [
        ("Example Video (simulator)", ["127.0.0.1", "video.example"], "KR", Channel.API, ""),
        ("X", ["x.com", "twitter.com"], "US", Channel.MANUAL, ""),
        ("Telegram", ["t.me", "telegram.org"], "AE", Channel.EMAIL, "abuse@telegram.org"),
        ("Naver", ["naver.com", "blog.naver.com"], "KR", Channel.EMAIL, "abuse@naver.com"),
    ]:
        if not Platform.objects.filter(name=name).exists():
            platform_create(acting_user=None, name=name, domains=domains, jurisdiction=jurisdiction, channel=channel, email=email)

    caseworker = User.objects.get(username="caseworker")
    if not caseworker.created_cases.exists():
        for pseudonym, category, minor, spreading, summary in [
            ("Blue Heron", "deepfake", True, True, "Synthetic images made from school photos posted in a group chat."),
            ("Quiet River", "intimate_image", False, False, "Former partner posted images on a forum."),
            ("Pine Cone", "sextortion", False, True, "Threats to publish unless paid."),
        ]:
            case_services.case_create(
                acting_user=caseworker,
                category=category,
                summary=summary,
                victim={"pseudonym": pseudonym, "is_minor": minor, "language": "ko"},
                consent={"takedown": True, "hash_sharing": not minor, "police_referral": False},
                consent_method="in_person",
                is_spreading=spreading,
            )
        busan_worker = User.objects.get(username="busan-caseworker")
        case_services.case_create(
            acting_user=busan_worker,
            category="illicit_filming",
            summary="Hidden camera footage reported by a friend.",
            victim={"pseudonym": "Sea Gull", "language": "ko"},
            consent={"takedown": True},
        )
    return created
