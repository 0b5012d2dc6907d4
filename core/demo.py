"""Demo data for `make run`: centres, one user per role, platforms, a few cases and takedown drafts.

Demo users have a fixed password and a TOTP secret derived from their name, so that
`manage.py demo_totp USERNAME` can print a valid code. Never load this into production.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import services
from core.models import Centre, User
from core.roles import Role

logger = logging.getLogger(__name__)

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

# The platform simulator that `make run` starts (tools/platform_sim.py, docs/simulator.md) and the
# SMTP sink that catches the demo's e-mail (tools/smtp_sink.py); see tools/run_all.py.
SIMULATOR_URL = "http://127.0.0.1:8030"
DEMO_SIM_PLATFORM = "Demo Video Platform (simulator)"
DEMO_PLATFORMS: list[tuple[str, dict[str, Any]]] = [
    (
        DEMO_SIM_PLATFORM,
        {
            "domains": ["127.0.0.1"],
            "channel": "api",
            "endpoint": f"{SIMULATOR_URL}/v1/notices",
            "secret": "demo-secret",
            "jurisdiction": "KR",
            "notice_language": "ko",
            "escalation_name": "KCSC (demo)",
            "escalation_email": "kcsc@demo.invalid",
        },
    ),
    ("Demo Mail Host (sink)", {"domains": ["localhost"], "channel": "email", "email": "abuse@demo-host.invalid"}),
]
DEMO_POST_URLS = [f"{SIMULATOR_URL}/demo/post/{n}" for n in range(1, 6)]


def demo_totp_key(username: str) -> str:
    return hashlib.sha256(f"demo-totp:{username}".encode()).hexdigest()[:40]


@transaction.atomic
def load_demo() -> list[str]:
    from cases import services as case_services
    from takedowns.management.commands.load_platforms import load_platform_fixture
    from takedowns.models import Platform
    from takedowns.selectors import PlatformMatcher, host_of
    from takedowns.services import platform_create, takedown_bulk_create

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

    load_platform_fixture()
    for name, fields in DEMO_PLATFORMS:
        if not Platform.objects.filter(name__iexact=name).exists():
            platform_create(acting_user=None, name=name, **fields)
    sim_platform = PlatformMatcher().match(host_of(DEMO_POST_URLS[0]))
    if sim_platform is None or sim_platform.name != DEMO_SIM_PLATFORM:
        logger.warning(
            "%s is matched to platform %r, not %r: this database holds an older demo. Remove var/db.sqlite3 "
            "(or the platform) and run load_demo again for the simulator demo.",
            host_of(DEMO_POST_URLS[0]), getattr(sim_platform, "name", None), DEMO_SIM_PLATFORM,
        )  # fmt: skip

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

    # Five drafts on the first case, for the simulator's demo posts: approve them and watch
    # them go sent (at once) and removed (the simulator takes the posts down after 120 s; the
    # re-checks that notice it are scheduled by beat).
    first_case = caseworker.created_cases.order_by("created_at", "pk").first()
    if first_case is not None:
        have = set(first_case.takedowns.values_list("url", flat=True))
        if any(url not in have for url in DEMO_POST_URLS):
            takedown_bulk_create(case=first_case, urls=DEMO_POST_URLS, acting_user=caseworker)
    return created
