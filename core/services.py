"""Writes on accounts, tokens and sign-in throttling. Each records an audit event."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import accounts, audit
from core.errors import ServiceError
from core.models import ApiToken, Centre, LoginThrottle, User
from core.roles import CASE_ROLES, Role


def _require_admin(acting_user: User | None) -> None:
    # acting_user None means the system itself (management commands run by an operator).
    if acting_user is not None and acting_user.role != Role.ADMIN:
        raise ServiceError(_("Only administrators manage accounts."))


@transaction.atomic
def centre_create(*, code: str, name: str, is_central: bool = False, acting_user: User | None = None) -> Centre:
    _require_admin(acting_user)
    centre = Centre.objects.create(code=code, name=name, is_central=is_central)
    audit.record("centre.create", actor=acting_user, obj=centre, centre_id=centre.pk, details={"code": code})
    return centre


def central_centre() -> Centre:
    centre = Centre.objects.filter(is_central=True).first()
    if centre is None:
        centre = centre_create(code="central", name=settings.CENTRE_NAME, is_central=True)
    return centre


@transaction.atomic
def user_create(
    *,
    username: str,
    role: str,
    centre: Centre,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_service_account: bool = False,
    acting_user: User | None = None,
) -> User:
    _require_admin(acting_user)
    # An administrator never chooses a person's password: people set their own through an
    # invitation (core.accounts.user_invite). Only the operator at the console (acting_user None:
    # the demo, createstaffuser's first administrator, tests) passes one.
    if acting_user is not None and password:
        raise ServiceError(_("Administrators do not set passwords: the person sets their own from the invitation."))
    if role not in Role.values:
        raise ServiceError(_("Unknown role %(role)s.") % {"role": role}, field="role")
    if role == Role.PARTNER and not is_service_account:
        raise ServiceError(_("The partner role is for machine clients only."), field="role")
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError(_("That username is taken."), field="username")
    user = User(
        username=username,
        role=role,
        centre=centre,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_service_account=is_service_account,
    )
    # Service accounts never have a usable password: a token is their only way in.
    user.password = make_password(password if password and not is_service_account else None)
    if acting_user is not None and not is_service_account:
        # Invited by an administrator: inactive until the person accepts the invitation and, for
        # a case role, a supervisor of the centre approves (core/accounts.py).
        user.is_active = False
    else:
        # The console's accounts (and machine clients) need no supervisor: see core/accounts.py.
        user.approved_at = timezone.now()
    user.save()
    audit.record(
        "user.create",
        actor=acting_user,
        obj=user,
        centre_id=centre.pk,
        details={"role": role, "service_account": is_service_account},
    )
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str, acting_user: User | None = None) -> User:
    _require_admin(acting_user)
    if role not in Role.values:
        raise ServiceError(_("Unknown role %(role)s.") % {"role": role}, field="role")
    old = user.role
    user.role = role
    user.save(update_fields=["role"])
    audit.record("user.role_change", actor=acting_user, obj=user, centre_id=user.centre_id, details={"from": old, "to": role})
    if not user.is_service_account and accounts.role_change_needs_approval(old, role):
        accounts.require_approval(user=user, acting_user=acting_user, reason="role")
    return user


@transaction.atomic
def user_set_centre(*, user: User, centre: Centre, acting_user: User | None = None) -> User:
    """Moves an account to another centre: from then on it sees that centre's cases and reports."""
    _require_admin(acting_user)
    old_id = user.centre_id
    old = user.centre.code if user.centre else None
    user.centre = centre
    user.save(update_fields=["centre"])
    audit.record("user.centre_change", actor=acting_user, obj=user, centre_id=centre.pk, details={"from": old, "to": centre.code})
    if not user.is_service_account and user.role in CASE_ROLES and old_id != centre.pk:
        # The new centre's supervisors decide who works on their cases.
        accounts.require_approval(user=user, acting_user=acting_user, reason="centre")
    return user


@transaction.atomic
def user_set_active(*, user: User, active: bool, acting_user: User | None = None) -> User:
    """Disabling an account ends its sessions everywhere and revokes its API tokens at once."""
    _require_admin(acting_user)
    if active and not user.is_service_account:
        # Enabling is no way around the invitation or a supervisor's approval.
        if accounts.needs_approval(user):
            raise ServiceError(_("This account waits for approval by a supervisor of its centre."))
        if not accounts.has_accepted(user):
            raise ServiceError(_("This person has not accepted the invitation yet."))
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        _end_sessions(user)
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit.record("user.enable" if active else "user.disable", actor=acting_user, obj=user, centre_id=user.centre_id)
    return user


def _end_sessions(user: User) -> int:
    # Sessions are signed blobs keyed by id; the user id lives inside, so decode each live one.
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def user_reset_two_factor(*, user: User, acting_user: User | None = None) -> None:
    """Removes the user's authenticator and e-mails them a fresh invitation link, through which
    they set a password and enrol a new one. Enrolment is never offered at sign-in, so whoever
    else knows the password (the administrator included) cannot enrol in their place."""
    _require_admin(acting_user)
    if user.is_service_account:
        raise ServiceError(_("Service accounts have no authenticator."))
    TOTPDevice.objects.filter(user=user).delete()
    _end_sessions(user)
    audit.record("user.two_factor_reset", actor=acting_user, obj=user, centre_id=user.centre_id)
    accounts.invitation_send(user=user, acting_user=acting_user)


@transaction.atomic
def two_factor_enrolment_device(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator a user is enrolling, created on first need."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        audit.record("auth.two_factor_enrolment_started", actor=user, obj=user)
    return device


@transaction.atomic
def two_factor_confirm(*, user: User, device: TOTPDevice) -> None:
    """Marks the authenticator confirmed after its first correct code."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record("auth.two_factor_enrolled", actor=user, obj=user)


@transaction.atomic
def api_token_issue(
    *,
    user: User,
    acting_user: User | None = None,
    scopes: list[str] | None = None,
    name: str = "",
    expires_days: int | None = None,
) -> str:
    """Creates a token for a service account and returns its key. Only the key's hash is kept.

    Without scopes the token gets every scope the account's role allows (core.api.scopes);
    it expires after expires_days (default API_TOKEN_TTL_DAYS). A person's account never gets
    one: people sign in with a password and a code.
    """
    from core.api.scopes import SCOPES, role_scopes

    _require_admin(acting_user)
    if not user.is_service_account:
        raise ServiceError(_("Only service accounts get API tokens; people sign in with a password and a code."))
    allowed = role_scopes(user.role)
    if scopes:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ServiceError(_("Unknown scope: %(scopes)s.") % {"scopes": ", ".join(unknown)}, field="scopes")
        outside = sorted(set(scopes) - allowed)
        if outside:
            raise ServiceError(
                _("The role %(role)s does not allow: %(scopes)s.") % {"role": user.role, "scopes": ", ".join(outside)},
                field="scopes",
            )
        chosen = sorted(set(scopes))
    else:
        chosen = sorted(allowed)
    days = settings.API_TOKEN_TTL_DAYS if expires_days is None else expires_days
    if days < 1:
        raise ServiceError(_("A token lasts at least one day."), field="expires_days")
    key = secrets.token_urlsafe(32)
    while not key[0].isalnum():
        # A key (and so its prefix) starting with "-" reads as an option to revoke_api_token.
        key = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=days)
    token = ApiToken.objects.create(
        user=user,
        key_hash=hash_token(key),
        prefix=key[:8],
        name=name.strip()[:100],
        scopes=chosen,
        expires_at=expires_at,
    )
    audit.record(
        "api_token.issue",
        actor=acting_user,
        obj=user,
        centre_id=user.centre_id,
        details={"prefix": token.prefix, "name": token.name, "scopes": chosen, "expires": expires_at.date().isoformat()},
    )
    return key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, acting_user: User | None = None) -> ApiToken:
    """Revokes one token; the account's other tokens keep working."""
    _require_admin(acting_user)
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.revoked_by = acting_user
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        "api_token.revoke",
        actor=acting_user,
        obj=token.user,
        centre_id=token.user.centre_id,
        details={"prefix": token.prefix, "name": token.name},
    )
    return token


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# Sign-in throttling -------------------------------------------------------------------------


def throttle_locked_until(username: str) -> datetime | None:
    row = LoginThrottle.objects.filter(username=username.lower()).first()
    if row and row.locked_until and row.locked_until > timezone.now():
        return row.locked_until
    return None


@transaction.atomic
def throttle_register_failure(username: str, *, kind: str) -> datetime | None:
    """Counts a failed password or code. Returns the lock's end when this failure caused a lock."""
    name = username.lower()[:150]
    row, _created = LoginThrottle.objects.select_for_update().get_or_create(username=name)
    now = timezone.now()
    if row.locked_until and row.locked_until <= now:
        row.locked_until = None
    row.failures += 1
    locked = None
    if row.failures >= settings.LOGIN_FAILURE_LIMIT:
        locked = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        row.locked_until = locked
        row.failures = 0
        row.lockouts += 1
    row.save()
    # The typed name is recorded only when it is a real account, so typos of passwords
    # pasted into the username box never reach the audit log.
    user = User.objects.filter(username__iexact=name).first()
    audit.record(
        "auth.locked_out" if locked else f"auth.{kind}_failed",
        actor=user.username if user else "unknown",
        obj=user,
        details={"kind": kind},
    )
    return locked


def throttle_reset(username: str) -> None:
    LoginThrottle.objects.filter(username=username.lower()).update(failures=0, locked_until=None)


def audit_chain_check(*, acting_user: User | None) -> dict[str, object]:
    """Walks the audit chain and records the outcome: the last result (read by the audit page
    and /readyz), an audit event, and an alert to administrators when it is broken.

    Runs in a worker: by the six-hourly schedule (no actor) or at an auditor's request from the
    audit page (audit_chain_check_request; the auditor is the actor). The walk reads one snapshot
    of its own (about 50 s per million events measured on the reference machine), too long for a
    web request; the records are written after it."""
    from core import alerts
    from core.models import SystemState

    report = audit.verify_chain()
    result: dict[str, object] = {
        "ok": report.ok,
        "checked": report.checked,
        "broken_at": report.broken_at,
        "reason": report.reason,
        "signed": report.signed,  # signed checkpoints compared (None: no signer's public key set)
    }
    with transaction.atomic():
        SystemState.objects.update_or_create(
            key="audit_chain_check",
            defaults={"value": {**result, "at": timezone.now().isoformat(), "by": getattr(acting_user, "username", "")}},
        )
        audit.record("audit.chain_verified" if report.ok else "audit.chain_broken", actor=acting_user, details=result)
    if not report.ok:
        alerts.notify_admins(
            subject="Audit chain broken",
            body=(
                f"The audit log's hash chain is broken at event {report.broken_at}: {report.reason}. "
                if report.broken_at is not None
                else f"The audit log could not be checked against its signed checkpoints: {report.reason}. "
            )
            + "Investigate before trusting the log; run `manage.py verify_audit_chain` to confirm.",
        )
    return result


@transaction.atomic
def audit_chain_check_request(*, acting_user: User) -> None:
    """An auditor asks for a check now: noted (so the page can say one is running) and handed to
    a worker after the commit."""
    from core.models import SystemState
    from core.tasks import verify_audit_chain_task

    if acting_user.role != Role.AUDITOR:
        raise ServiceError(_("Only auditors check the audit chain."))
    SystemState.objects.update_or_create(
        key="audit_chain_check_requested", defaults={"value": {"at": timezone.now().isoformat(), "by": acting_user.username}}
    )
    transaction.on_commit(lambda: verify_audit_chain_task.delay(acting_user_id=acting_user.pk))


def audit_chain_state() -> tuple[dict[str, object] | None, dict[str, object] | None]:
    """(the last check's result, an auditor's request not answered yet), read in one query so a
    worker finishing between two reads cannot make the page say "never checked"."""
    from django.utils.dateparse import parse_datetime

    from core.models import SystemState

    states = dict(
        SystemState.objects.filter(key__in=["audit_chain_check", "audit_chain_check_requested"]).values_list("key", "value")
    )
    done, asked = states.get("audit_chain_check"), states.get("audit_chain_check_requested")
    done = done if isinstance(done, dict) else None
    if not isinstance(asked, dict):
        return done, None
    asked_at = parse_datetime(str(asked.get("at", "")))
    done_at = parse_datetime(str(done.get("at", ""))) if done else None
    if asked_at is None or (done_at is not None and done_at >= asked_at):
        return done, None
    return done, asked
