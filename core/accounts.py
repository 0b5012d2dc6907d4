"""Staff accounts from invitation to approval: nobody holds a usable credential for someone else.

1. An administrator invites: username, role, centre, e-mail (user_invite). The account is made
   with an unusable password and stays inactive; an Invitation keeps only a SHA-256 of its key,
   and the key travels only in the e-mail sent after the commit (never through the broker, a log
   or a page), so the administrator cannot open the account.
2. The person opens the link (invitation_valid), sets their own password (invitation_accept),
   then enrols their own authenticator on the enrolment page and is signed in after its first
   correct code. Enrolment is reachable only this way, never from the sign-in page; that is why
   an administrator's "reset authenticator" sends a fresh invitation to the person.
3. An account with a case role (caseworker, supervisor) also waits for a supervisor of its own
   centre (user_approve); that centre's supervisors are e-mailed. A centre with no supervisor
   of its own yet is approved by a supervisor of the central centre. Other roles are active
   once the invitation is accepted.
4. Giving an account a case role, or moving a case-role account to another centre, asks for the
   (new) centre's approval again (require_approval, called by core.services.user_set_role and
   user_set_centre).

An operator at the server's console (acting_user None: createstaffuser) is the root of trust of
a fresh installation: accounts it invites count approved, otherwise the first supervisor could
never be approved by anyone.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import audit
from core.errors import ServiceError
from core.links import site_url
from core.models import Centre, Invitation, User
from core.roles import CASE_ROLES, Role

logger = logging.getLogger(__name__)


def _require_admin(acting_user: User | None) -> None:
    # None is the operator at the console (management commands).
    if acting_user is not None and acting_user.role != Role.ADMIN:
        raise ServiceError(_("Only administrators manage accounts."))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def needs_approval(user: User) -> bool:
    """A person's account with a case role that no supervisor of its centre approved yet."""
    return user.role in CASE_ROLES and user.approved_at is None and not user.is_service_account


def has_accepted(user: User) -> bool:
    """The person set their own password (through an invitation, or before invitations existed)."""
    return user.has_usable_password()


def role_change_needs_approval(old: str, new: str) -> bool:
    # Into a case role from anything else, or caseworker to supervisor. Supervisor to caseworker
    # gives nothing new in the same centre, so it needs nobody's approval.
    return new in CASE_ROLES and old != new and not (old == Role.SUPERVISOR and new == Role.CASEWORKER)


# Who approves ---------------------------------------------------------------------------------


def approvers(centre_id: int | None) -> QuerySet[User]:
    """Supervisors who may approve an account of this centre: its own active, approved
    supervisors; while it has none, those of the central centre."""
    own = _supervisors(Q(centre_id=centre_id))
    if centre_id is not None and own.exists():
        return own
    return _supervisors(Q(centre__is_central=True))


def _supervisors(where: Q) -> QuerySet[User]:
    return User.objects.filter(
        where, role=Role.SUPERVISOR, is_active=True, is_service_account=False, approved_at__isnull=False
    ).order_by("username")


def _is_approver(user: Any) -> bool:
    return (
        getattr(user, "role", None) == Role.SUPERVISOR
        and bool(getattr(user, "is_active", False))
        and not getattr(user, "is_service_account", True)
        and getattr(user, "approved_at", None) is not None
    )


def pending_approvals(supervisor: Any) -> QuerySet[User]:
    """Accounts this supervisor may approve: their own centre's, and, for a supervisor of the
    central centre, those of centres with no supervisor of their own yet. Anyone else: none."""
    if not _is_approver(supervisor):
        return User.objects.none()
    waiting = User.objects.filter(role__in=list(CASE_ROLES), approved_at__isnull=True, is_service_account=False).exclude(
        pk=supervisor.pk
    )
    where = Q(centre_id=supervisor.centre_id)
    if supervisor.centre is not None and supervisor.centre.is_central:
        has_own = Exists(_supervisors(Q(centre_id=OuterRef("centre_id"))))
        where |= ~has_own & Q(centre__isnull=False)
    return waiting.filter(where).select_related("centre").order_by("date_joined", "username")


# Invitations ----------------------------------------------------------------------------------


def _open_invitations(user: User) -> QuerySet[Invitation]:
    return Invitation.objects.filter(user=user, used_at__isnull=True, cancelled_at__isnull=True)


def invitation_valid(key: str) -> Invitation | None:
    """The invitation this key opens, or None: forged, used, cancelled and expired alike (the
    pages give one answer for all of them)."""
    if not key or len(key) > 200:
        return None
    return invitation_valid_hash(hash_key(key))


def invitation_valid_hash(key_hash: str) -> Invitation | None:
    """Same, by the key's hash: what the session keeps between the link and the password page."""
    if len(key_hash) != 64:
        return None
    return (
        Invitation.objects.select_related("user")
        .filter(
            key_hash=key_hash,
            used_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
            user__is_service_account=False,
        )
        .first()
    )


def _issue(user: User, acting_user: User | None) -> tuple[Invitation, str]:
    if user.is_service_account:
        raise ServiceError(_("Service accounts sign in with a token, never through an invitation."))
    now = timezone.now()
    replaced = _open_invitations(user).update(cancelled_at=now)
    key = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        user=user,
        key_hash=hash_key(key),
        created_by=acting_user,
        expires_at=now + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    audit.record(
        "user.invite",
        actor=acting_user,
        obj=user,
        centre_id=user.centre_id,
        details={"expires": invitation.expires_at.isoformat(timespec="minutes"), "replaced": replaced},
    )
    return invitation, key


@transaction.atomic
def invitation_send(*, user: User, acting_user: User | None) -> Invitation:
    """A new invitation by e-mail; any earlier one stops working. The e-mail goes after commit."""
    _require_admin(acting_user)
    if not user.email:
        raise ServiceError(_("This account has no e-mail address to send the link to."), field="email")
    invitation, key = _issue(user, acting_user)
    expires_at = invitation.expires_at
    transaction.on_commit(lambda: _send_invitation_email(user, key, expires_at))
    return invitation


@transaction.atomic
def invitation_link_for_console(*, user: User) -> str:
    """For the operator at the console (createstaffuser --print-link, the first administrator of
    an installation with no mail server yet): the link, printed instead of e-mailed."""
    _invitation, key = _issue(user, None)
    return invitation_url(key)


@transaction.atomic
def invitation_cancel(*, user: User, acting_user: User | None) -> int:
    _require_admin(acting_user)
    cancelled = _open_invitations(user).update(cancelled_at=timezone.now())
    if cancelled:
        audit.record("user.invitation_cancelled", actor=acting_user, obj=user, centre_id=user.centre_id)
    return cancelled


@transaction.atomic
def invitation_accept(*, key_hash: str, password: str) -> User:
    """Uses the invitation (once): the person's own password; any old authenticator goes, since
    the enrolment page comes next. Raises ServiceError for a link that does not work and
    ValidationError for a password the validators refuse (the link is then still good)."""
    found = invitation_valid_hash(key_hash)
    if found is None:
        raise ServiceError(_("This link does not work."))
    invitation = Invitation.objects.select_for_update().select_related("user").get(pk=found.pk)
    if invitation.used_at is not None or invitation.cancelled_at is not None:
        raise ServiceError(_("This link does not work."))
    user = invitation.user
    validate_password(password, user)
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    user.set_password(password)
    # Active now unless a supervisor still has to approve. An account an administrator had
    # disabled comes back only through a new invitation they chose to send.
    user.is_active = not needs_approval(user)
    user.save(update_fields=["password", "is_active"])
    TOTPDevice.objects.filter(user=user).delete()
    audit.record(
        "user.invitation_accepted",
        actor=user,
        obj=user,
        centre_id=user.centre_id,
        details={"waits_for_approval": needs_approval(user)},
    )
    return user


# Approval -------------------------------------------------------------------------------------


def may_approve(supervisor: Any, user: User) -> bool:
    return pending_approvals(supervisor).filter(pk=user.pk).exists()


@transaction.atomic
def user_approve(*, user: User, acting_user: User) -> User:
    """A supervisor of the account's centre (or, for a centre with no supervisor yet, of the
    central centre) lets a case-role account work. Anyone else: PermissionDenied."""
    if not may_approve(acting_user, user):
        raise PermissionDenied
    user = User.objects.select_for_update().get(pk=user.pk)
    if not needs_approval(user):
        return user
    user.approved_at = timezone.now()
    user.approved_by = acting_user
    # Not accepted yet: the invitation switches it on when the person sets their password.
    user.is_active = has_accepted(user)
    user.save(update_fields=["approved_at", "approved_by", "is_active"])
    audit.record("user.approve", actor=acting_user, obj=user, centre_id=user.centre_id, details={"role": user.role})
    if user.email and user.is_active:
        transaction.on_commit(lambda: _send_approved_email(user))
    return user


def require_approval(*, user: User, acting_user: User | None, reason: str) -> None:
    """Called inside the role or centre change's transaction: the account stops working until a
    supervisor of its (new) centre approves it; its sessions end now."""
    from core.services import _end_sessions

    user.approved_at = None
    user.approved_by = None
    user.is_active = False
    user.save(update_fields=["approved_at", "approved_by", "is_active"])
    _end_sessions(user)
    audit.record("user.approval_required", actor=acting_user, obj=user, centre_id=user.centre_id, details={"reason": reason})
    notify_approvers_after_commit(user)


# E-mail (after the commit, synchronously: the invitation key must not wait in the broker) ----


def invitation_url(key: str) -> str:
    return f"{site_url()}{reverse('core:invitation_open', args=[key])}"


def _send(subject: str, body: str, recipients: list[str], what: str, user_id: int) -> None:
    try:
        send_mail(f"[{settings.CENTRE_NAME}] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # noqa: BLE001 - the row is committed; the administrator can send again
        # Ids only: never the address or the link.
        logger.warning("account e-mail not sent", extra={"what": what, "user_id": user_id})


def _send_invitation_email(user: User, key: str, expires_at: Any) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        local = timezone.localtime(expires_at)
        subject = _("Your account at the support centre")
        body = _(
            "An account named %(username)s was made for you in the case system.\n\n"
            "Open this link to choose your password and set up your authenticator app:\n%(link)s\n\n"
            "The link works once, until %(expires)s. If you did not expect this e-mail, ignore it: "
            "nothing happens without the link."
        ) % {"username": user.username, "link": invitation_url(key), "expires": local.strftime("%Y-%m-%d %H:%M")}
    _send(subject, body, [user.email], "invitation", user.pk)


def _send_approved_email(user: User) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Your account is approved")
        body = _("A supervisor of your centre approved your account %(username)s. You can sign in now: %(link)s") % {
            "username": user.username,
            "link": f"{site_url()}{reverse('core:login')}",
        }
    _send(subject, body, [user.email], "approved", user.pk)


def notify_approvers_after_commit(user: User) -> None:
    user_id = user.pk
    transaction.on_commit(lambda: _send_approval_request(user_id))


def _send_approval_request(user_id: int) -> None:
    user = User.objects.select_related("centre").filter(pk=user_id).first()
    if user is None or not needs_approval(user):
        return
    recipients = sorted({e for e in approvers(user.centre_id).exclude(pk=user.pk).values_list("email", flat=True) if e})
    if not recipients:
        logger.warning("no supervisor to tell about an account waiting for approval", extra={"user_id": user_id})
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("An account waits for your approval")
        body = _(
            "The account %(username)s (%(role)s, %(centre)s) waits for approval by a supervisor of its centre. "
            "It cannot open any case until one of you approves it.\n\nReview it here: %(link)s"
        ) % {
            "username": user.username,
            "role": Role(user.role).label,
            "centre": user.centre.name if user.centre else "-",
            "link": f"{site_url()}{reverse('core:approvals')}",
        }
    # One e-mail to them all: colleagues of one centre.
    _send(subject, body, recipients, "approval_request", user.pk)


@transaction.atomic
def user_invite(*, username: str, role: str, centre: Centre, email: str, acting_user: User | None) -> User:
    """The administrator's way to add a person: no password, an invitation by e-mail."""
    from core.services import user_create

    _require_admin(acting_user)
    if not email:
        raise ServiceError(_("An e-mail address is needed: the invitation goes there."), field="email")
    user = user_create(username=username, role=role, centre=centre, email=email, acting_user=acting_user)
    invitation_send(user=user, acting_user=acting_user)
    if needs_approval(user):
        notify_approvers_after_commit(user)
    return user


def work_items(user: Any) -> list[Any]:
    """My work: a supervisor's accounts waiting for approval (nothing for anyone else)."""
    from core.panels import WorkItem

    if not _is_approver(user):
        return []
    return [
        WorkItem(
            key="accounts_waiting",
            label=_("Accounts waiting for your approval"),
            count=pending_approvals(user).count(),
            url=reverse("core:approvals"),
            order=90,
            hint=_("New colleagues cannot open any case until a supervisor of their centre approves them."),
        )
    ]
