"""Sign-in (password, then TOTP or enrolment), sign-out, home, the audit log and user admin."""

from __future__ import annotations

import base64
import io
from datetime import datetime, time
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import accounts, audit, audit_words, panels, services, twofactor
from core.errors import ServiceError
from core.forms import AuditFilterForm, CodeForm, LoginForm, UserChangeForm, UserInviteForm
from core.models import AuditEvent, Invitation, User
from core.roles import Role


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return None


def _locked_message(until: datetime) -> str:
    local = timezone.localtime(until)
    return _("Too many failed attempts. For your security, sign-in is paused until %(time)s. Please try again then.") % {
        "time": formats.time_format(local, "H:i")
    }


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and getattr(request.user, "is_verified", lambda: False)():
        return redirect("core:home")
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        locked = services.throttle_locked_until(username)
        if locked:
            error = _locked_message(locked)
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None or getattr(user, "is_service_account", False):
                locked = services.throttle_register_failure(username, kind="password")
                error = _locked_message(locked) if locked else _("The username or password is not right.")
            else:
                assert isinstance(user, User)
                if twofactor.confirmed_device(user) is None:
                    # Enrolment only through a link sent to the person's e-mail (core/accounts.py):
                    # knowing the password is not enough to choose the authenticator.
                    error = _(
                        "This account has no authenticator yet. Open the link in your invitation e-mail, "
                        "or ask an administrator to send a new one."
                    )
                else:
                    twofactor.begin(request, user)
                    url = reverse("core:verify")
                    nxt = _safe_next(request)
                    return HttpResponseRedirect(f"{url}?next={nxt}" if nxt else url)
    return render(request, "core/login.html", {"form": form, "error": error, "next": _safe_next(request) or ""})


def _code_attempt(request: HttpRequest, user: User, device: TOTPDevice, code: str) -> str | None:
    """Checks a code against throttling and replay; returns an error message or None on success."""
    locked = services.throttle_locked_until(user.username)
    if locked:
        return _locked_message(locked)
    allowed, info = device.verify_is_allowed()
    if not allowed:
        until = (info or {}).get("locked_until")
        return _locked_message(until) if until else _("Please wait a moment before trying another code.")
    # verify_token refuses a code already used (django-otp remembers the last time step).
    if device.verify_token(code):
        return None
    locked = services.throttle_register_failure(user.username, kind="code")
    if locked:
        twofactor.clear(request)
        return _locked_message(locked)
    return _("That code did not work. Codes change every 30 seconds and each works only once.")


def verify_view(request: HttpRequest) -> HttpResponse:
    user = twofactor.pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect("core:login")
    device = twofactor.confirmed_device(user)
    if device is None:
        return redirect("core:enrol")
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        error = _code_attempt(request, user, device, form.cleaned_data["code"])
        if error is None:
            with transaction.atomic():
                twofactor.complete(request, user, device)
                services.throttle_reset(user.username)
                audit.record("auth.login", actor=user, obj=user)
            return HttpResponseRedirect(_safe_next(request) or reverse("core:home"))
    return render(request, "core/verify.html", {"form": form, "error": error, "next": _safe_next(request) or ""})


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    return svg[svg.index("<svg") :]


# After an invitation's password step, the session names the person enrolling (for this long).
ENROL_USER_KEY = "enrol_user_id"
ENROL_AT_KEY = "enrol_at"
ENROL_SECONDS = 15 * 60
# The invitation being accepted, by its key's hash (the key itself is kept in no session).
INVITATION_HASH_KEY = "invitation_key_hash"


def _enrolling_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(ENROL_USER_KEY)
    started = request.session.get(ENROL_AT_KEY, 0)
    if not user_id or timezone.now().timestamp() - float(started) > ENROL_SECONDS:
        return None
    return User.objects.filter(pk=user_id, is_service_account=False).first()


def enrol_view(request: HttpRequest) -> HttpResponse:
    """The person enrols their own authenticator, right after setting their password through an
    invitation link (invitation_view); never from the sign-in page."""
    user = _enrolling_user(request)
    if user is None or twofactor.confirmed_device(user):
        messages.info(request, _("To set up an authenticator, open the link in your invitation e-mail."))
        return redirect("core:login")
    device = services.two_factor_enrolment_device(user=user)
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        error = _code_attempt(request, user, device, form.cleaned_data["code"])
        if error is None:
            request.session.pop(ENROL_USER_KEY, None)
            request.session.pop(ENROL_AT_KEY, None)
            with transaction.atomic():
                services.two_factor_confirm(user=user, device=device)
                services.throttle_reset(user.username)
                if user.is_active:
                    twofactor.complete(request, user, device)
                    audit.record("auth.login", actor=user, obj=user)
            if not user.is_active:
                # A case role waits for a supervisor of its centre (core/accounts.py).
                return render(request, "core/invitation_waiting.html")
            messages.success(request, _("Your authenticator is set up. You will need it every time you sign in."))
            return redirect("core:home")
    secret = base64.b32encode(device.bin_key).decode("ascii")
    context = {
        "form": form,
        "error": error,
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 - generated by qrcode, no user input
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": "",
    }
    return render(request, "core/enrol.html", context)


def _invitation_invalid(request: HttpRequest) -> HttpResponse:
    # One calm answer for a forged, used, cancelled or expired link: which one it was is nobody's
    # business but the administrator's.
    response = render(request, "core/invitation_invalid.html", status=404)
    response["Referrer-Policy"] = "no-referrer"
    return response


def invitation_open_view(request: HttpRequest, key: str) -> HttpResponse:
    """The e-mailed link. Keeps only the key's hash in the session and moves on to a page whose
    address holds no key (so it leaks through no history, Referer or screenshot). Opening the
    link changes nothing: a mail scanner that follows it uses nothing up."""
    # Good or not, the answer is the same redirect: the next page says whether the link works,
    # and the key never appears on any page (the base layout echoes the page's own address).
    request.session.cycle_key()
    request.session[INVITATION_HASH_KEY] = accounts.hash_key(key[:200])
    response = redirect("core:invitation")
    response["Referrer-Policy"] = "no-referrer"
    return response


def invitation_view(request: HttpRequest) -> HttpResponse:
    """Step 1 of 2 for a new person (or one whose authenticator was reset): their own password.
    Step 2 is the enrolment page."""
    invitation = accounts.invitation_valid_hash(str(request.session.get(INVITATION_HASH_KEY, "")))
    if invitation is None:
        return _invitation_invalid(request)
    user = invitation.user
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accounts.invitation_accept(key_hash=invitation.key_hash, password=form.cleaned_data["new_password1"])
        except ValidationError as exc:
            form.add_error("new_password1", exc)
        except ServiceError:
            return _invitation_invalid(request)
        else:
            request.session.pop(INVITATION_HASH_KEY, None)
            request.session.cycle_key()
            request.session[ENROL_USER_KEY] = user.pk
            request.session[ENROL_AT_KEY] = timezone.now().timestamp()
            return redirect("core:enrol")
    return render(request, "core/invitation.html", {"form": form, "invited": user})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit.record_now("auth.logout", actor=request.user, obj=request.user)
    logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("core:login")


def home_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return landing_view(request)
    role = getattr(request.user, "role", None)
    if role in (Role.CASEWORKER, Role.SUPERVISOR):
        return redirect("core:my_work")
    if role == Role.AUDITOR:
        return redirect("core:audit")
    if role == Role.ADMIN:
        return redirect("core:users")
    if role == Role.ANALYST:
        return redirect("compliance:dashboard")
    return render(request, "core/home.html")


def _audit_rows(events: Any) -> list[dict[str, Any]]:
    """Each event with its action and record in words, and the links an auditor follows: every
    event of the same record, and every event of the same person. Auditors see no case, so the
    record's own page would answer 404; its history in the log is what they can open."""
    rows = []
    for event in events:
        rows.append(
            {
                "event": event,
                "action": audit_words.describe_action(event.action),
                "record": audit_words.describe_record(event.object_type),
                "record_query": urlencode({"object_type": event.object_type, "object_id": event.object_id})
                if event.object_type
                else "",
                "actor_query": urlencode({"actor": event.actor_username}) if event.actor_username else "",
                "role": Role(event.actor_role).label if event.actor_role in Role.values else event.actor_role,
            }
        )
    return rows


def my_work_view(request: HttpRequest) -> HttpResponse:
    """Caseworkers' and supervisors' home: what waits for them, each count linking to its list
    (core.panels.work_items; cases and takedowns add their items)."""
    if getattr(request.user, "role", None) not in (Role.CASEWORKER, Role.SUPERVISOR):
        raise Http404
    items = panels.work_items(request.user)
    return render(
        request,
        "core/my_work.html",
        {"items": items, "waiting": sum(1 for i in items if i.count), "urgent": [i for i in items if i.urgent and i.count]},
    )


def landing_view(request: HttpRequest) -> HttpResponse:
    """The public front door: report, check a report's status, the transparency report, and a
    discreet staff sign-in. Like the public form it sets no cookie, keeps nothing about the
    visitor and takes its language from ?lang= only (templates/intake/landing.html)."""
    from django.conf import settings
    from django.utils import translation

    lang = request.GET.get("lang")
    if lang in dict(settings.LANGUAGES):
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
    response = render(request, "intake/landing.html")
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def audit_view(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "role", None) != Role.AUDITOR:
        raise Http404
    if request.method == "POST":
        # "Check the chain now": the same check the schedule runs every six hours, in a worker
        # (a long log takes longer than a web request may).
        services.audit_chain_check_request(acting_user=cast(User, request.user))
        messages.success(request, _("The check has started. Its result appears here when it is done."))
        return redirect("core:audit")
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.all()
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["actor"]:
            events = events.filter(actor_username__iexact=data["actor"])
        if data["object_type"]:
            events = events.filter(object_type=data["object_type"])
        if data["object_id"]:
            events = events.filter(object_id=data["object_id"])
        tz = timezone.get_current_timezone()
        if data["since"]:
            events = events.filter(created_at__gte=datetime.combine(data["since"], time.min, tz))
        if data["until"]:
            events = events.filter(created_at__lte=datetime.combine(data["until"], time.max, tz))
    page = Paginator(events.order_by("-id"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    check, pending = services.audit_chain_state()
    checked_at = parse_datetime(str(check.get("at", ""))) if check else None
    return render(
        request,
        "core/audit_list.html",
        {
            "form": form,
            "page": page,
            "rows": _audit_rows(page),
            "query": query.urlencode(),
            "filtered": bool(form.is_valid() and any(form.cleaned_data.values())),
            "chain": check,
            "chain_checked_at": checked_at,
            "chain_pending": pending,
        },
    )


def _require_admin(request: HttpRequest) -> None:
    if getattr(request.user, "role", None) != Role.ADMIN:
        raise Http404


def _account_rows(users: Any) -> list[dict[str, Any]]:
    """Each account with its state in words and the actions that fit it."""
    now = timezone.now()
    open_invites: dict[int, Invitation] = {
        i.user_id: i for i in Invitation.objects.filter(used_at__isnull=True, cancelled_at__isnull=True).order_by("created_at")
    }
    rows = []
    for u in users:
        invitation = open_invites.get(u.pk)
        accepted = u.is_service_account or accounts.has_accepted(u)
        waiting = accounts.needs_approval(u)
        if invitation is not None and invitation.expires_at > now:
            state = _("Invited (the link works until %(time)s)") % {
                "time": formats.date_format(timezone.localtime(invitation.expires_at), "SHORT_DATETIME_FORMAT")
            }
        elif not accepted:
            state = _("Invitation expired or cancelled")
        elif u.is_active:
            state = _("Active")
        elif waiting:
            state = ""
        else:
            state = _("Disabled")
        rows.append(
            {
                "u": u,
                "state": state,
                "waiting": waiting,
                "active": u.is_active,
                "open_invitation": invitation is not None,
                "can_resend": not u.is_service_account and not accepted,
                "can_toggle": u.is_active or (accepted and not waiting),
                "can_reset": not u.is_service_account and accepted,
            }
        )
    return rows


def users_view(request: HttpRequest) -> HttpResponse:
    """Accounts, and inviting a person: the administrator gives who and where, never a password
    (core/accounts.py)."""
    _require_admin(request)
    form = UserInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = accounts.user_invite(
                username=data["username"],
                role=data["role"],
                centre=data["centre"],
                email=data["email"],
                acting_user=cast(User, request.user),
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            note = (
                _("A supervisor of its centre must approve it before it can open any case.")
                if accounts.needs_approval(user)
                else ""
            )
            messages.success(
                request,
                " ".join(
                    [_("Invitation sent to %(email)s for %(name)s.") % {"email": user.email, "name": user.username}, note]
                ).strip(),
            )
            return redirect("core:users")
    users = User.objects.select_related("centre").order_by("centre__name", "username")
    from core.token_views import service_accounts_with_tokens

    return render(
        request,
        "core/users.html",
        {"form": form, "rows": _account_rows(users), "service_tokens": service_accounts_with_tokens()},
    )


@require_POST
def user_toggle_active_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    user = get_object_or_404(User, pk=pk)
    if user.pk == request.user.pk:
        messages.error(request, _("You cannot disable your own account."))
    else:
        try:
            services.user_set_active(user=user, active=not user.is_active, acting_user=cast(User, request.user))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Account updated."))
    return redirect("core:users")


@require_POST
def user_reset_two_factor_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    user = get_object_or_404(User, pk=pk)
    try:
        services.user_reset_two_factor(user=user, acting_user=cast(User, request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Authenticator removed. %(name)s got an e-mail with a link to set up a new one.") % {"name": user.username},
        )
    return redirect("core:users")


@require_POST
def user_invitation_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    user = get_object_or_404(User, pk=pk, is_service_account=False)
    try:
        accounts.invitation_send(user=user, acting_user=cast(User, request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A new invitation was sent; the earlier link no longer works."))
    return redirect("core:users")


@require_POST
def user_invitation_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    user = get_object_or_404(User, pk=pk, is_service_account=False)
    accounts.invitation_cancel(user=user, acting_user=cast(User, request.user))
    messages.success(request, _("Invitation cancelled: its link no longer works."))
    return redirect("core:users")


def user_change_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Role or centre of an account. A high-value action: the administrator types a fresh code
    from their own authenticator (step-up), and a new case role or centre waits for a supervisor
    of that centre (core/accounts.py)."""
    _require_admin(request)
    admin = cast(User, request.user)
    user = get_object_or_404(User.objects.select_related("centre"), pk=pk)
    if user.pk == admin.pk:
        raise Http404
    form = UserChangeForm(
        request.POST or None, initial={"role": user.role, "centre": user.centre_id}, service_account=user.is_service_account
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not twofactor.step_up(request, admin, data["code"]):
            form.add_error("code", _("Enter a new code from your authenticator app to change a role or centre."))
        else:
            try:
                with transaction.atomic():
                    if data["centre"].pk != user.centre_id:
                        services.user_set_centre(user=user, centre=data["centre"], acting_user=admin)
                    if data["role"] != user.role:
                        services.user_set_role(user=user, role=data["role"], acting_user=admin)
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                user.refresh_from_db()
                messages.success(
                    request,
                    _("Account updated. It waits for approval by a supervisor of its centre.")
                    if accounts.needs_approval(user)
                    else _("Account updated."),
                )
                return redirect("core:users")
    return render(request, "core/user_change.html", {"form": form, "account": user})


def approvals_view(request: HttpRequest) -> HttpResponse:
    """Supervisors: the accounts of their centre that wait for their approval."""
    if getattr(request.user, "role", None) != Role.SUPERVISOR:
        raise Http404
    return render(request, "core/approvals.html", {"pending": accounts.pending_approvals(request.user)})


@require_POST
def user_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    # The same scope as the list: an account this supervisor may not approve does not exist here.
    user = get_object_or_404(accounts.pending_approvals(request.user), pk=pk)
    accounts.user_approve(user=user, acting_user=cast(User, request.user))
    messages.success(request, _("%(name)s is approved.") % {"name": user.username})
    return redirect("core:approvals")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "core/password_reset.html"
    email_template_name = "core/password_reset_email.txt"
    subject_template_name = "core/password_reset_subject.txt"
    success_url = reverse_lazy("core:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Sets a new password but never signs in: the second factor is still asked at sign-in."""

    template_name = "core/password_reset_confirm.html"
    success_url = reverse_lazy("core:password_reset_complete")
    post_reset_login = False

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            audit.record("auth.password_reset", actor=form.user, obj=form.user)
        return response
