"""Test data built with the same services the product uses, never raw ORM writes."""

from __future__ import annotations

import itertools
import os
from typing import Any

from django.http import HttpRequest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases import services as case_services
from cases.models import Case
from core import services
from core.models import Centre, User

PASSWORD = "correct-horse-battery-staple-42"
_seq = itertools.count(1)


def make_centre(code: str | None = None, *, central: bool = False) -> Centre:
    if central:
        return services.central_centre()
    code = code or f"region{next(_seq)}"
    return Centre.objects.filter(code=code).first() or services.centre_create(code=code, name=f"{code} centre")


def make_user(role: str = "caseworker", centre: Centre | None = None, *, username: str | None = None, email: str = "") -> User:
    centre = centre or make_centre(central=True)
    username = username or f"{role}{next(_seq)}"
    return services.user_create(
        username=username, role=role, centre=centre, password=PASSWORD, email=email or f"{username}@example.org"
    )


def make_device(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "test"})
    return device


def totp_code(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset_steps * device.step
    return f"{totp.token():06d}"


def login_verified(client: Client, user: User) -> Client:
    """A session that passed both factors (the sign-in views themselves are tested separately)."""
    device = make_device(user)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def make_case(user: User, **kwargs: Any) -> Case:
    defaults: dict[str, Any] = {
        "category": "deepfake",
        "summary": "Synthetic test case",
        "victim": {"pseudonym": f"Pseudonym {next(_seq)}", "is_minor": False, "language": "ko"},
    }
    defaults.update(kwargs)
    return case_services.case_create(acting_user=user, **defaults)


def service_twin(user: User) -> User:
    """A service account with the person's role and centre: only service accounts hold API
    tokens, so an API test that acts "as a caseworker by token" acts as this machine client."""
    if user.is_service_account:
        return user
    username = f"{user.username}-svc"
    twin = User.objects.filter(username=username).first()
    if twin is None:
        assert user.centre is not None
        twin = services.user_create(
            username=username, role=user.role, centre=user.centre, is_service_account=True, acting_user=None
        )
    return twin


def issue_token(user: User, **kwargs: Any) -> str:
    """A token for the user if it is a service account, else for its service twin (service_twin)."""
    return services.api_token_issue(user=service_twin(user), acting_user=None, **kwargs)


__all__ = ["HttpRequest"]


def rewrite_audit_event(event_id: int, *, actor_username: str = "someone-else") -> None:
    """What an attacker with the database owner's rights could do: lift the append-only trigger,
    change an audit event, put the trigger back. The chain check must find it."""
    set_audit_column(event_id, "actor_username", actor_username)


def set_audit_column(event_id: int, column: str, value: str) -> None:
    """Sets one column of one audit event as the database owner (the append-only trigger lifted
    for the statement); `column` is a fixed name from the test, never input."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update_delete")
        cursor.execute(f"UPDATE core_auditevent SET {column} = %s WHERE id = %s", [value, event_id])
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_update_delete")


def make_report(description: str = "It was posted.", urls: tuple[str, ...] = ("https://x.example/1",)) -> Any:
    """A public report as the form files it (cases.intake.intake_submit), without its receipt."""
    from cases import intake

    report, _receipt = intake.intake_submit(intake.IntakeInput(description=description, urls=urls))
    return report


# The least environment with which config.settings.production starts (the tests of production
# settings start subprocesses with it and change one thing at a time).
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 20 + "production-test-key-0123456789-abcdefghij",
    "EVIDENCE_ENCRYPTION_KEY": "cHJvZHVjdGlvbi10ZXN0LWtleS0zMi1ieXRlcyEhISE=",
    "ALLOWED_HOSTS": "support.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_USE_TLS": "true",
    "PATH": os.environ.get("PATH", ""),
}
